"""The end-to-end fixtures (tests/e2e/conftest.py) for the browser test, under another module
name so that pytest does not take them for this directory's own conftest twice."""
import importlib.util
import sys
from pathlib import Path

E2E = Path(__file__).resolve().parents[1] / "e2e"
sys.path.insert(0, str(E2E))
_spec = importlib.util.spec_from_file_location("e2e_conftest", E2E / "conftest.py")
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

pytest_runtest_makereport = _e2e.pytest_runtest_makereport
_openapi_contract = _e2e._openapi_contract
_service_logs = _e2e._service_logs
pg = _e2e.pg
db_url = _e2e.db_url
start_service = _e2e.start_service
pbx = _e2e.pbx
