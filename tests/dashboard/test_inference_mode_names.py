"""One name per inference mode, for clinicians and patients: the dashboard's labels (InferenceMode)
and the patient app's words (text.js MODE_NAMES, used by app.js and the consent text) are the same,
and neither side keeps an old name ("photos mode", "Frames uploaded to the server")."""
import json
import re
from pathlib import Path

from backend.patients.models import InferenceMode

APP = Path(__file__).resolve().parents[2] / "clients" / "patient_app"
OLD_NAMES = ("photos mode", "Frames uploaded to the server", "On the device (no frame")


def app_mode_names() -> dict:
    text = (APP / "static" / "patient_app" / "text.js").read_text()
    body = re.search(r"export const MODE_NAMES = \{(.*?)\};", text, re.S).group(1)
    return {key: json.loads(value) for key, value in re.findall(r'(\w+): ("[^"]*")', body)}


def test_the_app_names_each_mode_with_the_dashboards_label():
    assert app_mode_names() == {mode.value: mode.label for mode in InferenceMode}


def test_the_app_uses_the_names_and_no_old_name_is_left():
    app_js = (APP / "static" / "patient_app" / "app.js").read_text()
    assert "MODE_NAMES.frames" in app_js and "MODE_NAMES.on_device" in app_js
    shell = (APP / "templates" / "patient_app" / "app.html").read_text()
    assert f"“{InferenceMode.FRAMES.label}”" in shell
    for name in OLD_NAMES:
        assert name not in app_js + shell + str(InferenceMode.labels), name


def test_the_manage_page_offers_the_same_names(clinician_web, patient):
    page = clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode()
    for mode in InferenceMode:
        assert f'value="{mode.value}"' in page and mode.label in page
