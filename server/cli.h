/*
 * cli.h — colibri's subcommands. Each lives in its own cli_<name>.c, takes
 * argc/argv starting at the subcommand's name, answers --help, and returns
 * the process exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef CLB_CLI_H
#define CLB_CLI_H

struct cli_command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
};

int cli_version_main(int argc, char **argv);
int cli_data_main(int argc, char **argv);
int cli_backtest_main(int argc, char **argv);
int cli_sweep_main(int argc, char **argv);
int cli_migrate_main(int argc, char **argv);
int cli_serve_main(int argc, char **argv);
int cli_token_main(int argc, char **argv);
int cli_wallet_main(int argc, char **argv); /* gateway/cli_wallet.c */
int cli_secret_main(int argc, char **argv);

/* True when argv[1..] holds --help or -h. */
int cli_wants_help(int argc, char **argv);

#endif
