/*
 * cli_wallet.c — `colibri wallet`: the DEX gateway's wallets.
 *
 *   colibri wallet add --network NAME [--config FILE] [--data-dir DIR]
 *                                                      (private key on stdin)
 *   colibri wallet list [--network NAME] [--config FILE] [--data-dir DIR]
 *
 * Keys go into the encrypted secrets file (wallet.h, secrets.h); the
 * passphrase comes from $COLIBRI_SECRETS_PASSPHRASE or a prompt on the
 * terminal. `add` prints the wallet's address; no command ever prints a
 * key. The data directory is --data-dir, else the config's data_dir, else
 * $COLIBRI_DATA_DIR, else ./var. With --config, `add` checks that the
 * network is one of the file's gateway.networks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "config.h"
#include "error.h"
#include "eth.h"
#include "secrets.h"
#include "wallet.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: colibri wallet add --network NAME [--config FILE] [--data-dir DIR]\n"
            "       colibri wallet list [--network NAME] [--config FILE] [--data-dir DIR]\n\n"
            "Manages the wallets the DEX gateway signs with. 'add' reads a private key\n"
            "(64 hex digits, optionally 0x-prefixed) from standard input, stores it\n"
            "encrypted in DATA_DIR/secrets.json under wallet.NETWORK.ADDRESS and prints\n"
            "the address. 'list' prints network and address of each wallet, never a key.\n"
            "The passphrase is $COLIBRI_SECRETS_PASSPHRASE, else asked on the terminal;\n"
            "`colibri serve` needs the same variable to sign transactions.\n\n"
            "Options:\n"
            "  --network NAME    a network of the serve config's gateway.networks\n"
            "  --config FILE     the serve configuration: its data_dir is the default,\n"
            "                    and `add` checks NAME is in its gateway.networks\n"
            "  --data-dir DIR    default: the config's data_dir, else $COLIBRI_DATA_DIR,\n"
            "                    else ./var\n");
}

int cli_wallet_main(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "list") != 0)) {
        usage(stderr);
        return 2;
    }
    bool add = strcmp(argv[1], "add") == 0;
    const char *network = NULL;
    const char *data_dir = NULL;
    const char *config = NULL;
    for (int i = 2; i < argc; i++) {
        const char **dst = NULL;
        const char *a = argv[i];
        size_t nlen = 0;
        if (strncmp(a, "--network", 9) == 0 && (a[9] == '\0' || a[9] == '=')) {
            dst = &network;
            nlen = 9;
        } else if (strncmp(a, "--data-dir", 10) == 0 && (a[10] == '\0' || a[10] == '=')) {
            dst = &data_dir;
            nlen = 10;
        } else if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
            dst = &config;
            nlen = 8;
        } else {
            fprintf(stderr, "colibri wallet: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        if (a[nlen] == '=') {
            *dst = a + nlen + 1;
        } else if (i + 1 < argc) {
            *dst = argv[++i];
        } else {
            fprintf(stderr, "colibri wallet: %s needs a value\n", a);
            return 2;
        }
    }
    if (add && (!network || !*network)) {
        fprintf(stderr, "colibri wallet add: --network NAME is required\n");
        return 2;
    }
    char err[512] = "";
    char cfg_dir[4096] = "";
    if (config) {
        struct clb_serve_config sc;
        clb_serve_config_init(&sc);
        if (clb_serve_config_load(&sc, config, err, sizeof(err)) != CLB_OK) {
            fprintf(stderr, "colibri wallet: %s\n", err);
            clb_serve_config_deinit(&sc);
            return 1;
        }
        json_t *nets = json_object_get(sc.gateway, "networks");
        bool known = !add || json_object_get(nets, network) != NULL;
        if (sc.data_dir)
            snprintf(cfg_dir, sizeof(cfg_dir), "%s", sc.data_dir);
        clb_serve_config_deinit(&sc);
        if (!known) {
            fprintf(stderr, "colibri wallet add: %s has no network '%s' in gateway.networks\n",
                    config, network);
            return 1;
        }
    }
    if (!data_dir || !*data_dir)
        data_dir = cfg_dir[0] ? cfg_dir : getenv("COLIBRI_DATA_DIR");
    if (!data_dir || !*data_dir)
        data_dir = "./var";
    char path[4200];
    struct stat st;
    bool exists = clb_secrets_path(data_dir, path, sizeof(path)) == CLB_OK &&
                  stat(path, &st) == 0;
    if (!add && !exists) {
        printf("no wallets\n");
        return 0;
    }
    char pw[CLB_SECRETS_PASSPHRASE_MAX];
    if (clb_secrets_passphrase(add && !exists, pw, sizeof(pw), err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "colibri wallet: %s\n", err);
        return 1;
    }
    int status = 1;
    if (add) {
        char key[256] = "";
        if (!fgets(key, sizeof(key), stdin)) {
            fprintf(stderr, "colibri wallet add: no private key on standard input\n");
        } else {
            uint8_t addr[20];
            mkdir(data_dir, 0700);
            if (clb_wallet_add(data_dir, pw, network, key, addr, err, sizeof(err)) != CLB_OK) {
                fprintf(stderr, "colibri wallet add: %s\n", err);
            } else {
                char t[CLB_ETH_ADDR_TEXT];
                clb_eth_address_format(addr, t);
                printf("%s\n", t);
                status = 0;
            }
        }
        OPENSSL_cleanse(key, sizeof(key));
    } else {
        json_t *list = NULL;
        if (clb_wallet_list(data_dir, pw, network, &list, err, sizeof(err)) != CLB_OK) {
            fprintf(stderr, "colibri wallet list: %s\n", err);
        } else {
            size_t i;
            json_t *w;
            json_array_foreach(list, i, w) {
                printf("%-20s %s\n", json_string_value(json_object_get(w, "network")),
                       json_string_value(json_object_get(w, "address")));
            }
            if (json_array_size(list) == 0)
                printf("no wallets\n");
            json_decref(list);
            status = 0;
        }
    }
    OPENSSL_cleanse(pw, sizeof(pw));
    return status;
}
