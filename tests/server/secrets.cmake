# Encrypted secrets (server/secrets.c) and `colibri secret` (cli_secret.c)
colibri_test(server_secrets_test SOURCES server/secrets_test.c
    LIBS colibri_server PkgConfig::JANSSON)
add_dependencies(server_secrets_test colibri)
