/*
 * main.c — the colibri command: dispatches to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_command commands[] = {
    { "backtest", "run a strategy over market data, or the A-S 2008 model", cli_backtest_main },
    { "data", "import, generate and inspect market data files", cli_data_main },
    { "migrate", "apply the database schema migrations", cli_migrate_main },
    { "secret", "store, list and remove encrypted secrets (API keys)", cli_secret_main },
    { "serve", "run the engine with its HTTPS API and WebSocket stream", cli_serve_main },
    { "sweep", "backtest every combination of a parameter grid", cli_sweep_main },
    { "token", "create, list and revoke API tokens", cli_token_main },
    { "version", "print the version", cli_version_main },
    { "wallet", "add and list the DEX gateway's encrypted wallets", cli_wallet_main },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

int cli_version_main(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: colibri version\nPrints colibri's version.\n");
        return 0;
    }
    printf("colibri %s\n", COLIBRI_VERSION);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: colibri COMMAND [ARGS...]\n\n"
               "colibri is a headless market-making and trading engine.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'colibri COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cli_version_main(1, argv);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "colibri: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
