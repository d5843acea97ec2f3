# Encrypted secrets: server/secrets.c and `colibri secret` (cli_secret.c).
target_sources(colibri_server PRIVATE secrets.c cli_secret.c)
