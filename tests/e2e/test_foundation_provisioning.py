"""Provisioning endpoints of openapi.yaml: classes of service, stations (with the live-state defaults
and the softkey, CB-33), trunk groups, hunt groups, system options."""

from harness import labelled

DEFAULT_STATE = {"availability": "idle", "hook": "on", "dnd": False, "make_busy": False,
                 "attendant_busy_out": False, "forward_to": None, "failed_over": False,
                 "console_available": True}

DEFAULT_OPTIONS = {"callback_cancel_timer_s": 3600, "notification_timeout_s": 20,
                   "recall_timeout_s": 60, "command_ttl_s": 300,
                   "max_per_requester": 10, "max_per_target": 50,
                   "digit_collection_during_busy_or_alerting": False,
                   "fac": {"setup": "*41", "cancel_all": "#41", "cancel_individual": "#42"}}


def assert_list(doc):
    assert isinstance(doc, dict) and isinstance(doc.get("items"), list), doc
    assert "next_cursor" in doc and "prev_cursor" in doc, doc
    return doc["items"]


def error_fields(doc):
    assert isinstance(doc.get("errors"), list) and doc["errors"], doc
    for e in doc["errors"]:
        assert isinstance(e.get("field"), str) and isinstance(e.get("message"), str), e
    return [e["field"] for e in doc["errors"]]


def cos(svc, id="std", allowed=True):
    return svc.ok("PUT", f"/v1/classes-of-service/{id}", {"callbacks_allowed": allowed})


# -- classes of service -----------------------------------------------------------------------

def test_cos_put_get_list_update(svc):
    doc = svc.ok("PUT", "/v1/classes-of-service/gold", {"callbacks_allowed": True}, status=200)
    assert doc["id"] == "gold" and doc["callbacks_allowed"] is True
    cos(svc, "no-cb_2", False)
    assert svc.ok("GET", "/v1/classes-of-service/gold")["callbacks_allowed"] is True
    items = assert_list(svc.ok("GET", "/v1/classes-of-service"))
    assert {i["id"]: i["callbacks_allowed"] for i in items} == {"gold": True, "no-cb_2": False}
    # PUT replaces.
    svc.ok("PUT", "/v1/classes-of-service/gold", {"callbacks_allowed": False})
    assert svc.ok("GET", "/v1/classes-of-service/gold")["callbacks_allowed"] is False
    svc.error("GET", "/v1/classes-of-service/silver", status=404, code="not_found")


def test_cos_bad_id_is_422(svc):
    for bad in ["a.b", "x" * 33, "a%20b", "%C3%A9t%C3%A9"]:
        with labelled(bad):
            svc.error("PUT", f"/v1/classes-of-service/{bad}", {"callbacks_allowed": True},
                      status=422, code="validation_failed")
    assert assert_list(svc.ok("GET", "/v1/classes-of-service")) == []


def test_cos_id_of_32_characters_is_fine(svc):
    cos(svc, "A" * 32)


def test_cos_body_validation(svc):
    for body in [{}, {"callbacks_allowed": "yes"}, {"callbacks_allowed": 1},
                 {"callbacks_allowed": None}]:
        with labelled(body):
            doc = svc.error("PUT", "/v1/classes-of-service/gold", body, status=422,
                            code="validation_failed")
            assert error_fields(doc) == ["callbacks_allowed"]
    svc.error("GET", "/v1/classes-of-service/gold", status=404, code="not_found")


# -- stations -----------------------------------------------------------------------------------

def test_station_put_defaults_live_state_and_softkey(svc):
    cos(svc)
    doc = svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "std"}, status=200)
    assert doc["number"] == "2001" and doc["kind"] == "ip_phone" and doc["cos"] == "std"
    assert doc["prime_line"] == "2001"
    got = svc.ok("GET", "/v1/stations/2001")
    assert got["number"] == "2001" and got["prime_line"] == "2001"
    assert got["resilient"] is False
    assert got["state"] == DEFAULT_STATE
    assert got["softkey"] == {"presented": False, "target": None}


def test_station_all_fields_and_kinds(svc):
    cos(svc)
    svc.ok("PUT", "/v1/stations/2002", {"kind": "analog", "cos": "std", "prime_line": "2092",
                                        "resilient": True})
    svc.ok("PUT", "/v1/stations/2003", {"kind": "mobile", "cos": "std"})
    svc.ok("PUT", "/v1/stations/100", {"kind": "console", "cos": "std", "console_group": "ops"})
    got = svc.ok("GET", "/v1/stations/2002")
    assert (got["kind"], got["prime_line"], got["resilient"]) == ("analog", "2092", True)
    assert svc.ok("GET", "/v1/stations/100")["console_group"] == "ops"
    items = assert_list(svc.ok("GET", "/v1/stations"))
    by = {i["number"]: i for i in items}
    assert set(by) == {"2002", "2003", "100"}
    assert by["2003"]["kind"] == "mobile"
    for i in items:
        assert i["state"] == DEFAULT_STATE and i["softkey"] == {"presented": False, "target": None}


def test_station_put_replaces(svc):
    cos(svc)
    cos(svc, "other", False)
    svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "std", "prime_line": "2091"})
    svc.ok("PUT", "/v1/stations/2001", {"kind": "analog", "cos": "other"})
    got = svc.ok("GET", "/v1/stations/2001")
    assert (got["kind"], got["cos"], got["prime_line"]) == ("analog", "other", "2001")


def test_station_numbers_with_star_and_hash(svc):
    cos(svc)
    doc = svc.ok("PUT", "/v1/stations/%2A12%23", {"kind": "ip_phone", "cos": "std"})
    assert doc["number"] == "*12#"
    assert svc.ok("GET", "/v1/stations/%2A12%23")["number"] == "*12#"


def test_station_delete_then_404(svc):
    cos(svc)
    svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "std"})
    st, doc, _ = svc.call("DELETE", "/v1/stations/2001")
    assert st == 204 and doc is None
    svc.error("GET", "/v1/stations/2001", status=404, code="not_found")
    svc.error("DELETE", "/v1/stations/2001", status=404, code="not_found")
    assert assert_list(svc.ok("GET", "/v1/stations")) == []


def test_station_bad_number_422_on_put_404_on_get_delete(svc):
    cos(svc)
    for number in ["20a1", "1" * 33, "+4930", "%20", "20%2001"]:
        with labelled(number):
            svc.error("PUT", f"/v1/stations/{number}", {"kind": "ip_phone", "cos": "std"},
                      status=422, code="validation_failed")
            svc.error("GET", f"/v1/stations/{number}", status=404, code="not_found")
            svc.error("DELETE", f"/v1/stations/{number}", status=404, code="not_found")
    assert assert_list(svc.ok("GET", "/v1/stations")) == []


def test_station_body_validation(svc):
    cos(svc)
    for body, field in [
        ({"cos": "std"}, "kind"),
        ({"kind": "fax", "cos": "std"}, "kind"),
        ({"kind": "ip_phone"}, "cos"),
        ({"kind": "ip_phone", "cos": "nope"}, "cos"),
        ({"kind": "ip_phone", "cos": 7}, "cos"),
        ({"kind": "ip_phone", "cos": "std", "resilient": "yes"}, "resilient"),
        ({"kind": "ip_phone", "cos": "std", "prime_line": "12x"}, "prime_line"),
        ({"kind": "ip_phone", "cos": "std", "prime_line": 2001}, "prime_line"),
        ({"kind": "console", "cos": "std", "console_group": 5}, "console_group"),
    ]:
        with labelled(body):
            doc = svc.error("PUT", "/v1/stations/2001", body, status=422,
                            code="validation_failed")
            assert field in error_fields(doc), doc
    svc.error("GET", "/v1/stations/2001", status=404, code="not_found")


def test_station_one_error_entry_per_invalid_field(svc):
    doc = svc.error("PUT", "/v1/stations/2001", {"kind": "fax", "cos": 7, "resilient": 3},
                    status=422, code="validation_failed")
    assert sorted(error_fields(doc)) == ["cos", "kind", "resilient"]


# -- trunk and hunt groups --------------------------------------------------------------------

def test_trunk_group_put_get_list_delete(svc):
    doc = svc.ok("PUT", "/v1/trunk-groups/9", {"lines": ["9-1", "9-2"], "callback_activation": True},
                 status=200)
    assert doc["number"] == "9" and doc["lines"] == ["9-1", "9-2"]
    assert doc["callback_activation"] is True
    svc.ok("PUT", "/v1/trunk-groups/8", {"lines": ["8-1"], "callback_activation": False})
    got = svc.ok("GET", "/v1/trunk-groups/9")
    assert got["lines"] == ["9-1", "9-2"] and got["callback_activation"] is True
    items = assert_list(svc.ok("GET", "/v1/trunk-groups"))
    assert sorted(i["number"] for i in items) == ["8", "9"]
    # PUT replaces the line set.
    svc.ok("PUT", "/v1/trunk-groups/9", {"lines": ["9-3"], "callback_activation": False})
    got = svc.ok("GET", "/v1/trunk-groups/9")
    assert got["lines"] == ["9-3"] and got["callback_activation"] is False
    assert svc.call("DELETE", "/v1/trunk-groups/9")[0] == 204
    svc.error("GET", "/v1/trunk-groups/9", status=404, code="not_found")
    svc.error("DELETE", "/v1/trunk-groups/9", status=404, code="not_found")


def test_trunk_group_validation(svc):
    for body, field in [
        ({"lines": "9-1", "callback_activation": True}, "lines"),
        ({"lines": [1, 2], "callback_activation": True}, "lines"),
        ({"lines": ["9-1"], "callback_activation": "on"}, "callback_activation"),
    ]:
        with labelled(body):
            doc = svc.error("PUT", "/v1/trunk-groups/9", body, status=422,
                            code="validation_failed")
            assert any(f.startswith(field) for f in error_fields(doc)), doc
    svc.error("GET", "/v1/trunk-groups/9", status=404, code="not_found")
    svc.error("PUT", "/v1/trunk-groups/9x", {"lines": ["9-1"], "callback_activation": True},
              status=422, code="validation_failed")
    svc.error("GET", "/v1/trunk-groups/9x", status=404, code="not_found")


def test_hunt_group_put_get_list_delete(svc):
    cos(svc)
    for n in ("2001", "2002", "2003"):
        svc.ok("PUT", f"/v1/stations/{n}", {"kind": "ip_phone", "cos": "std"})
    doc = svc.ok("PUT", "/v1/hunt-groups/500",
                 {"members": ["2001", "2002"], "callback_activation": True}, status=200)
    assert doc["number"] == "500" and doc["members"] == ["2001", "2002"]
    assert doc["callback_activation"] is True
    svc.ok("PUT", "/v1/hunt-groups/500", {"members": ["2003"], "callback_activation": False})
    got = svc.ok("GET", "/v1/hunt-groups/500")
    assert got["members"] == ["2003"] and got["callback_activation"] is False
    items = assert_list(svc.ok("GET", "/v1/hunt-groups"))
    assert [i["number"] for i in items] == ["500"]
    assert svc.call("DELETE", "/v1/hunt-groups/500")[0] == 204
    svc.error("GET", "/v1/hunt-groups/500", status=404, code="not_found")
    svc.error("DELETE", "/v1/hunt-groups/500", status=404, code="not_found")


def test_hunt_group_unknown_member_is_422(svc):
    cos(svc)
    svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "std"})
    doc = svc.error("PUT", "/v1/hunt-groups/500",
                    {"members": ["2001", "2999"], "callback_activation": True},
                    status=422, code="validation_failed")
    assert any(f.startswith("members") for f in error_fields(doc)), doc
    svc.error("GET", "/v1/hunt-groups/500", status=404, code="not_found")


def test_hunt_group_wrong_types(svc):
    cos(svc)
    svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "std"})
    for body, field in [
        ({"members": "2001", "callback_activation": True}, "members"),
        ({"members": [2001], "callback_activation": True}, "members"),
        ({"members": ["2001"], "callback_activation": 1}, "callback_activation"),
    ]:
        with labelled(body):
            doc = svc.error("PUT", "/v1/hunt-groups/500", body, status=422,
                            code="validation_failed")
            assert any(f.startswith(field) for f in error_fields(doc)), doc
    svc.error("PUT", "/v1/hunt-groups/50x", {"members": ["2001"], "callback_activation": True},
              status=422, code="validation_failed")
    svc.error("GET", "/v1/hunt-groups/500", status=404, code="not_found")


# -- system options ---------------------------------------------------------------------------

def test_system_options_defaults(svc):
    doc = svc.ok("GET", "/v1/system-options")
    for k, v in DEFAULT_OPTIONS.items():
        assert doc[k] == v, (k, doc)


def test_system_options_partial_put_keeps_the_rest(svc):
    doc = svc.ok("PUT", "/v1/system-options", {"max_per_requester": 3, "notification_timeout_s": 1})
    want = dict(DEFAULT_OPTIONS, max_per_requester=3, notification_timeout_s=1)
    for k, v in want.items():
        assert doc[k] == v, (k, doc)
    svc.ok("PUT", "/v1/system-options", {"digit_collection_during_busy_or_alerting": True,
                                         "fac": {"setup": "*55", "cancel_all": "",
                                                 "cancel_individual": "#42"}})
    got = svc.ok("GET", "/v1/system-options")
    want.update(digit_collection_during_busy_or_alerting=True,
                fac={"setup": "*55", "cancel_all": "", "cancel_individual": "#42"})
    for k, v in want.items():
        assert got[k] == v, (k, got)
    # An empty body changes nothing.
    again = svc.ok("PUT", "/v1/system-options", {})
    assert {k: again[k] for k in want} == want


def test_system_options_validation(svc):
    for body, field in [
        ({"callback_cancel_timer_s": 0}, "callback_cancel_timer_s"),
        ({"notification_timeout_s": -1}, "notification_timeout_s"),
        ({"recall_timeout_s": "60"}, "recall_timeout_s"),
        ({"command_ttl_s": 1.5}, "command_ttl_s"),
        ({"max_per_requester": 0}, "max_per_requester"),
        ({"max_per_target": None}, "max_per_target"),
        ({"digit_collection_during_busy_or_alerting": "yes"},
         "digit_collection_during_busy_or_alerting"),
        ({"fac": "*41"}, "fac"),
        ({"fac": {"setup": "abc"}}, "fac"),
    ]:
        with labelled(body):
            doc = svc.error("PUT", "/v1/system-options", body, status=422,
                            code="validation_failed")
            assert any(f.startswith(field) for f in error_fields(doc)), doc
            got = svc.ok("GET", "/v1/system-options")
            for k, v in DEFAULT_OPTIONS.items():
                assert got[k] == v, f"a refused PUT changed {k}: {got}"


def test_system_options_422_lists_every_bad_field_and_changes_nothing(svc):
    doc = svc.error("PUT", "/v1/system-options",
                    {"recall_timeout_s": 0, "command_ttl_s": "x", "max_per_target": 5},
                    status=422, code="validation_failed")
    assert sorted(error_fields(doc)) == ["command_ttl_s", "recall_timeout_s"]
    assert svc.ok("GET", "/v1/system-options")["max_per_target"] == 50


# -- GET-modify-PUT and empty bodies ------------------------------------------------------------

def test_every_get_answer_can_be_put_back_unchanged(svc):
    """README: a GET-modify-PUT round trip works for every provisioned resource. The body a GET
    returned, sent back as it is, is accepted and changes nothing (a non-console station's
    `console_group: null` included)."""
    cos(svc)
    svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "std"})
    svc.ok("PUT", "/v1/stations/2002", {"kind": "analog", "cos": "std", "prime_line": "2092",
                                        "resilient": True})
    svc.ok("PUT", "/v1/stations/100", {"kind": "console", "cos": "std", "console_group": "ops"})
    svc.ok("PUT", "/v1/stations/101", {"kind": "console", "cos": "std"})
    svc.ok("PUT", "/v1/trunk-groups/9", {"lines": ["9-1", "9-2"], "callback_activation": True})
    svc.ok("PUT", "/v1/hunt-groups/500", {"members": ["2001", "2002"],
                                          "callback_activation": False})
    svc.ok("PUT", "/v1/system-options", {"max_per_target": 7, "fac": {"cancel_all": ""}})
    for path in ["/v1/classes-of-service/std", "/v1/stations/2001", "/v1/stations/2002",
                 "/v1/stations/100", "/v1/stations/101", "/v1/trunk-groups/9",
                 "/v1/hunt-groups/500", "/v1/system-options"]:
        with labelled(path):
            before = svc.ok("GET", path)
            assert svc.ok("PUT", path, before, status=200) == before
            assert svc.ok("GET", path) == before
    assert svc.ok("GET", "/v1/stations/2001")["console_group"] is None
    # A console may be taken out of its group the same way.
    doc = svc.ok("GET", "/v1/stations/100")
    doc["console_group"] = None
    assert svc.ok("PUT", "/v1/stations/100", doc)["console_group"] is None


def test_an_empty_put_body_counts_as_an_empty_object(svc):
    """openapi.yaml: an empty body on PUT/POST counts as {} (with or without a Content-Type)."""
    cos(svc)
    svc.ok("PUT", "/v1/system-options", {"max_per_requester": 4})
    for headers in [{"Content-Type": "application/json"}, {"Content-Type": None}]:
        with labelled(headers):
            st, doc, _ = svc.call("PUT", "/v1/system-options", raw=b"", headers=headers)
            assert st == 200, (st, doc)
            assert doc["max_per_requester"] == 4 and doc["max_per_target"] == 50
            doc = svc.error("PUT", "/v1/stations/2001", raw=b"", headers=headers, status=422,
                            code="validation_failed")
            assert sorted(error_fields(doc)) == ["cos", "kind"]
            doc = svc.error("PUT", "/v1/classes-of-service/gold", raw=b"", headers=headers,
                            status=422, code="validation_failed")
            assert error_fields(doc) == ["callbacks_allowed"]
    svc.error("GET", "/v1/stations/2001", status=404, code="not_found")


def test_a_bad_path_number_and_a_bad_body_are_listed_together(svc):
    """One 422 names every invalid field, the number in the path included."""
    doc = svc.error("PUT", "/v1/stations/20x1", {"kind": "fax", "cos": "std"}, status=422,
                    code="validation_failed")
    assert sorted(error_fields(doc)) == ["kind", "number"]
    doc = svc.error("PUT", "/v1/trunk-groups/9x", {"lines": "9-1"}, status=422,
                    code="validation_failed")
    assert sorted(error_fields(doc)) == ["lines", "number"]
    doc = svc.error("PUT", "/v1/classes-of-service/a.b", {"callbacks_allowed": 1}, status=422,
                    code="validation_failed")
    assert sorted(error_fields(doc)) == ["callbacks_allowed", "id"]
