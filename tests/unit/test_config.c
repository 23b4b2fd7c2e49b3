/* Configuration (README, "Configuration"): defaults, required variables, flags over environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "service/config.h"

static void set_required(void)
{
    setenv("CALLBACKD_DATABASE_URL", "postgresql://x@127.0.0.1/db", 1);
    setenv("CALLBACKD_ADMIN_TOKEN", "admin-token-0123456789", 1);
    setenv("CALLBACKD_PBX_SECRET", "pbx-secret-0123456789", 1);
    unsetenv("CALLBACKD_LISTEN");
    unsetenv("CALLBACKD_LOG_LEVEL");
    unsetenv("CALLBACKD_PBX_COMMAND_URL");
    unsetenv("CALLBACKD_TLS_CERT");
    unsetenv("CALLBACKD_TLS_KEY");
    unsetenv("CALLBACKD_MAX_CONNECTIONS");
    unsetenv("CALLBACKD_MAX_CONNECTIONS_PER_IP");
    unsetenv("CALLBACKD_REQUEST_TIMEOUT_S");
    unsetenv("CALLBACKD_INBOX_RETENTION_S");
    unsetenv("CALLBACKD_DB_CONNECT_TIMEOUT_S");
    unsetenv("CALLBACKD_DB_STATEMENT_TIMEOUT_MS");
    unsetenv("CALLBACKD_DB_POOL_WAIT_MS");
    unsetenv("CREDENTIALS_DIRECTORY");
}

static void test_defaults(void **state)
{
    (void)state;
    set_required();
    struct cb_config cfg;
    char err[256];
    char *argv[] = {"callbackd", NULL};
    assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), 0);
    assert_int_equal(cfg.mode, CB_RUN_SERVE);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 8080);
    assert_null(cfg.pbx_command_url);
    assert_null(cfg.tls_cert);
    assert_int_equal(cfg.max_connections, 4096);
    assert_int_equal(cfg.max_connections_per_ip, 256);
    assert_int_equal(cfg.request_timeout_s, 10);
    assert_int_equal(cfg.inbox_retention_s, 604800);
    assert_int_equal(cfg.db_connect_timeout_s, 2);
    assert_int_equal(cfg.db_statement_timeout_ms, 2000);
    assert_int_equal(cfg.db_pool_wait_ms, 2000);
    cb_config_free(&cfg);
}

/* Replay safety: ids are remembered at least twice the 300 s signature window. */
static void test_inbox_retention_outlasts_the_signature_window(void **state)
{
    (void)state;
    const char *values[] = {"599", "300", "1"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        set_required();
        setenv("CALLBACKD_INBOX_RETENTION_S", values[i], 1);
        struct cb_config cfg;
        char err[256];
        char *argv[] = {"callbackd", NULL};
        assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), -1);
        assert_non_null(strstr(err, "CALLBACKD_INBOX_RETENTION_S"));
    }
    set_required();
    setenv("CALLBACKD_INBOX_RETENTION_S", "600", 1);
    struct cb_config cfg;
    char err[256];
    char *argv[] = {"callbackd", NULL};
    assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), 0);
    assert_int_equal(cfg.inbox_retention_s, CB_INBOX_RETENTION_MIN_S);
    cb_config_free(&cfg);
}

/* The API sessions: the server cancels at the statement timeout, the client gives up a little
 * later; the background sessions have no statement timeout but a bounded answer. */
static void test_database_limits(void **state)
{
    (void)state;
    set_required();
    setenv("CALLBACKD_DB_CONNECT_TIMEOUT_S", "5", 1);
    setenv("CALLBACKD_DB_STATEMENT_TIMEOUT_MS", "750", 1);
    setenv("CALLBACKD_DB_POOL_WAIT_MS", "0", 1);
    struct cb_config cfg;
    char err[256];
    char *argv[] = {"callbackd", NULL};
    assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), 0);
    assert_int_equal(cfg.db_pool_wait_ms, 0);
    struct db_limits api = cb_config_db_api_limits(&cfg);
    assert_int_equal(api.connect_timeout_s, 5);
    assert_int_equal(api.statement_timeout_ms, 750);
    assert_int_equal(api.answer_timeout_ms, 750 + CB_DB_ANSWER_SLACK_MS);
    struct db_limits background = cb_config_db_background_limits(&cfg);
    assert_int_equal(background.connect_timeout_s, 5);
    assert_int_equal(background.statement_timeout_ms, 0);
    assert_int_equal(background.answer_timeout_ms, CB_DB_BACKGROUND_ANSWER_MS);
    struct db_limits migrations = cb_config_db_migration_limits(&cfg);
    assert_int_equal(migrations.answer_timeout_ms, 0);
    cb_config_free(&cfg);
}

static void test_each_required_variable_is_named(void **state)
{
    (void)state;
    const char *vars[] = {"CALLBACKD_DATABASE_URL", "CALLBACKD_ADMIN_TOKEN",
                          "CALLBACKD_PBX_SECRET"};
    for (int i = 0; i < 3; i++) {
        set_required();
        unsetenv(vars[i]);
        struct cb_config cfg;
        char err[256];
        char *argv[] = {"callbackd", NULL};
        assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), -1);
        assert_non_null(strstr(err, vars[i]));
    }
}

static void test_bad_values_are_refused(void **state)
{
    (void)state;
    const char *cases[][2] = {{"CALLBACKD_LISTEN", "nonsense"},
                              {"CALLBACKD_LISTEN", "127.0.0.1:99999"},
                              {"CALLBACKD_LOG_LEVEL", "loud"},
                              {"CALLBACKD_PBX_COMMAND_URL", "ftp://pbx"},
                              {"CALLBACKD_TLS_CERT", "/only/the/cert.pem"},
                              {"CALLBACKD_MAX_CONNECTIONS", "0"},
                              {"CALLBACKD_MAX_CONNECTIONS", "1000001"},
                              {"CALLBACKD_MAX_CONNECTIONS", "lots"},
                              {"CALLBACKD_MAX_CONNECTIONS_PER_IP", "0"},
                              {"CALLBACKD_MAX_CONNECTIONS_PER_IP", "-5"},
                              {"CALLBACKD_REQUEST_TIMEOUT_S", "0"},
                              {"CALLBACKD_REQUEST_TIMEOUT_S", "3601"},
                              {"CALLBACKD_REQUEST_TIMEOUT_S", "2.5"},
                              {"CALLBACKD_DB_CONNECT_TIMEOUT_S", "1"},
                              {"CALLBACKD_DB_STATEMENT_TIMEOUT_MS", "99"},
                              {"CALLBACKD_DB_POOL_WAIT_MS", "60001"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_required();
        setenv(cases[i][0], cases[i][1], 1);
        struct cb_config cfg;
        char err[256];
        char *argv[] = {"callbackd", NULL};
        assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), -1);
        assert_non_null(strstr(err, cases[i][0]));
    }
}

/* Issue 11: the connection limits and the request deadline, from the environment or flags. */
static void test_connection_limits_are_configurable(void **state)
{
    (void)state;
    set_required();
    setenv("CALLBACKD_MAX_CONNECTIONS", "50", 1);
    setenv("CALLBACKD_MAX_CONNECTIONS_PER_IP", "20", 1);
    struct cb_config cfg;
    char err[256];
    char *argv[] = {"callbackd", "--callbackd_request_timeout_s=2",
                    "--callbackd_max_connections_per_ip", "10", NULL};
    assert_int_equal(cb_config_load(&cfg, 4, argv, err, sizeof err), 0);
    assert_int_equal(cfg.max_connections, 50);
    assert_int_equal(cfg.max_connections_per_ip, 10);
    assert_int_equal(cfg.request_timeout_s, 2);
    cb_config_free(&cfg);
    set_required();
}

static void test_flag_overrides_environment(void **state)
{
    (void)state;
    set_required();
    setenv("CALLBACKD_LISTEN", "127.0.0.1:8080", 1);
    struct cb_config cfg;
    char err[256];
    char *argv[] = {"callbackd", "migrate", "--callbackd_listen=[::1]:9090", NULL};
    assert_int_equal(cb_config_load(&cfg, 3, argv, err, sizeof err), 0);
    assert_int_equal(cfg.mode, CB_RUN_MIGRATE);
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 9090);
    cb_config_free(&cfg);
}

static void test_help_and_version_need_no_configuration(void **state)
{
    (void)state;
    unsetenv("CALLBACKD_DATABASE_URL");
    struct cb_config cfg;
    char err[256];
    char *help[] = {"callbackd", "--help", NULL};
    assert_int_equal(cb_config_load(&cfg, 2, help, err, sizeof err), 0);
    assert_int_equal(cfg.mode, CB_RUN_HELP);
    char *version[] = {"callbackd", "--version", NULL};
    assert_int_equal(cb_config_load(&cfg, 2, version, err, sizeof err), 0);
    assert_int_equal(cfg.mode, CB_RUN_VERSION);
    char *routes[] = {"callbackd", "routes", NULL};
    assert_int_equal(cb_config_load(&cfg, 2, routes, err, sizeof err), 0);
    assert_int_equal(cfg.mode, CB_RUN_ROUTES);
    char *unknown[] = {"callbackd", "--nope", NULL};
    assert_int_equal(cb_config_load(&cfg, 2, unknown, err, sizeof err), -1);
}

/* A credentials directory (systemd's LoadCredential=) holding `files` (name, content pairs). */
static void make_credentials(char *dir, const char *const files[][2], size_t n)
{
    strcpy(dir, "/tmp/callbackd-credentials.XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < n; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        if (!files[i][1]) { /* a directory where a file is expected: unreadable */
            assert_int_equal(mkdir(path, 0700), 0);
            continue;
        }
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(files[i][1], f);
        fclose(f);
    }
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
}

static void remove_credentials(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    unsetenv("CREDENTIALS_DIRECTORY");
}

/* The secrets and the TLS files as credentials: the variable unset, the file named after it. */
static void test_secrets_come_from_the_credentials_directory(void **state)
{
    (void)state;
    set_required();
    unsetenv("CALLBACKD_DATABASE_URL");
    unsetenv("CALLBACKD_ADMIN_TOKEN");
    unsetenv("CALLBACKD_PBX_SECRET");
    const char *const files[][2] = {{"database_url", "postgresql://cb:pw@db.example/cb\n"},
                                    {"admin_token", "admin-from-a-file-0123456789\r\n"},
                                    {"pbx_secret", "pbx-from-a-file-0123456789"},
                                    {"tls_cert", "PEM"},
                                    {"tls_key", "PEM"}};
    char dir[64];
    make_credentials(dir, files, 5);
    struct cb_config cfg;
    char err[256];
    char *argv[] = {"callbackd", NULL};
    assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), 0);
    assert_string_equal(cfg.database_url, "postgresql://cb:pw@db.example/cb");
    assert_string_equal(cfg.admin_token, "admin-from-a-file-0123456789");
    assert_string_equal(cfg.pbx_secret, "pbx-from-a-file-0123456789");
    char path[128];
    snprintf(path, sizeof path, "%s/tls_key", dir);
    assert_string_equal(cfg.tls_key, path);
    snprintf(path, sizeof path, "%s/tls_cert", dir);
    assert_string_equal(cfg.tls_cert, path);
    cb_config_free(&cfg);

    /* A variable or a flag that is set wins over the file. */
    setenv("CALLBACKD_ADMIN_TOKEN", "admin-from-the-environment", 1);
    char *flag[] = {"callbackd", "--callbackd_tls_key=/etc/other/key.pem", NULL};
    assert_int_equal(cb_config_load(&cfg, 2, flag, err, sizeof err), 0);
    assert_string_equal(cfg.admin_token, "admin-from-the-environment");
    assert_string_equal(cfg.tls_key, "/etc/other/key.pem");
    assert_string_equal(cfg.pbx_secret, "pbx-from-a-file-0123456789");
    cb_config_free(&cfg);
    remove_credentials(dir);
}

/* A credential that is there but unusable is an error naming it; one that is absent is as if
 * not given (the required variable is named). */
static void test_bad_credentials_are_refused(void **state)
{
    (void)state;
    const char *const cases[][2] = {{"admin_token", "\n"},
                                    {"admin_token", NULL},
                                    {"pbx_secret", ""},
                                    {"database_url", NULL},
                                    {"tls_key", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_required();
        unsetenv("CALLBACKD_ADMIN_TOKEN");
        unsetenv("CALLBACKD_PBX_SECRET");
        unsetenv("CALLBACKD_DATABASE_URL");
        setenv("CALLBACKD_TLS_CERT", "/etc/callbackd/cert.pem", 1);
        char dir[64];
        make_credentials(dir, &cases[i], 1);
        if (strcmp(cases[i][0], "tls_key") == 0 && getuid() == 0) {
            remove_credentials(dir); /* root reads a directory's path: access() says yes */
            continue;
        }
        struct cb_config cfg;
        char err[256];
        char *argv[] = {"callbackd", NULL};
        assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), -1);
        assert_non_null(strstr(err, cases[i][0]));
        remove_credentials(dir);
    }
    char dir[64];
    make_credentials(dir, NULL, 0);
    set_required();
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    unsetenv("CALLBACKD_PBX_SECRET");
    struct cb_config cfg;
    char err[256];
    char *argv[] = {"callbackd", NULL};
    assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), -1);
    assert_non_null(strstr(err, "CALLBACKD_PBX_SECRET"));
    remove_credentials(dir);

    /* Too large: a file past CB_CREDENTIAL_MAX_BYTES is not a secret. */
    char *big = malloc(20000);
    assert_non_null(big);
    memset(big, 'x', 19999);
    big[19999] = '\0';
    const char *const large[][2] = {{"database_url", big}};
    set_required();
    unsetenv("CALLBACKD_DATABASE_URL");
    make_credentials(dir, large, 1);
    assert_int_equal(cb_config_load(&cfg, 1, argv, err, sizeof err), -1);
    assert_non_null(strstr(err, "database_url"));
    assert_non_null(strstr(err, "larger"));
    remove_credentials(dir);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_inbox_retention_outlasts_the_signature_window),
        cmocka_unit_test(test_database_limits),
        cmocka_unit_test(test_each_required_variable_is_named),
        cmocka_unit_test(test_bad_values_are_refused),
        cmocka_unit_test(test_flag_overrides_environment),
        cmocka_unit_test(test_connection_limits_are_configurable),
        cmocka_unit_test(test_help_and_version_need_no_configuration),
        cmocka_unit_test(test_secrets_come_from_the_credentials_directory),
        cmocka_unit_test(test_bad_credentials_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
