/* Configuration (README, "Configuration"): defaults, required variables, flags over environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
