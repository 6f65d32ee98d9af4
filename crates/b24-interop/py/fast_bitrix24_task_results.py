"""Drives the portal through fast_bitrix24, as an application would, and prints one
JSON summary on stdout.

fast_bitrix24 speaks the classic REST API: `call()` wraps every item in a classic
batch (`/rest/USER/SECRET/batch`, commands `order0000000000`, ...), `call_batch()` posts
a batch as given, `get_all()` pages a list through batches. It has no REST 3.0 client;
`call(..., raw=True)` with the REST 3.0 webhook base (`/rest/api/USER/SECRET/`) posts
the parameters as JSON to a REST 3.0 method, which is what this script does for
`tasks.task.result.addfromchatmessage` / `.delete`.

Input (environment):
  B24_WEBHOOK_URL  the incoming webhook, classic form https://HOST/rest/USER/SECRET/
  B24_TASK_ID      the task (default 51)
  B24_CHAT_ID      that task's chat (default 58)

fast_bitrix24 uses aiohttp with the default SSL context, which trusts the CA file
named by SSL_CERT_FILE. The webhook secret never reaches the output.
"""

import json
import os
import sys
import warnings
from importlib.metadata import version
from urllib.parse import urlsplit

from fast_bitrix24 import Bitrix

HOOK_URL = os.environ.get("B24_WEBHOOK_URL", "")
TASK_ID = int(os.environ.get("B24_TASK_ID", "51"))
CHAT_ID = int(os.environ.get("B24_CHAT_ID", "58"))

_parts = urlsplit(HOOK_URL)
_path = [p for p in _parts.path.split("/") if p]
USER_ID, SECRET = (_path[1], _path[2]) if len(_path) == 3 and _path[0] == "rest" else ("", "")
V3_HOOK_URL = f"{_parts.scheme}://{_parts.netloc}/rest/api/{USER_ID}/{SECRET}/"


def redact(text):
    text = str(text)
    return text.replace(SECRET, "[redacted]") if SECRET else text


summary = {"sdk": "fast_bitrix24", "version": version("fast_bitrix24"), "steps": {}}


def step(name, fn):
    """Runs one step; an exception is recorded and the next step still runs."""
    try:
        summary["steps"][name] = {"ok": True, **fn()}
    except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
        status = getattr(e, "status", None)
        summary["steps"][name] = {
            "ok": False,
            "error": {"code": type(e).__name__, "status": status, "description": redact(e)},
        }
    return summary["steps"][name]


# fast_bitrix24 warns (UserWarning) when call() is used for a `.get` method.
warnings.simplefilter("ignore")
bx = Bitrix(HOOK_URL, verbose=False)
bx3 = Bitrix(V3_HOOK_URL, verbose=False)


def post_messages():
    # Two messages in one call(): fast_bitrix24 packs them into one classic batch.
    ids = bx.call(
        "im.message.add",
        [
            {"DIALOG_ID": f"chat{CHAT_ID}", "MESSAGE": "Figures checked (fast_bitrix24)"},
            {"DIALOG_ID": f"chat{CHAT_ID}", "MESSAGE": "Report sent (fast_bitrix24)"},
        ],
    )
    return {"messageIds": list(ids)}


posted = step("callMessages", post_messages)


def explicit_batch():
    # call_batch(): a classic batch as written, with a `$result[...]` reference.
    result = bx.call_batch(
        {
            "halt": 1,
            "cmd": {
                "history": f"im.dialog.messages.get?DIALOG_ID=chat{CHAT_ID}&LIMIT=2",
                "again": f"im.message.add?DIALOG_ID=chat{CHAT_ID}"
                "&MESSAGE=Newest+is+$result[history][messages][0][id]",
            },
        }
    )
    return {
        "history": [{"id": m["id"], "text": m["text"]} for m in result["history"]["messages"]],
        "again": result["again"],
    }


step("callBatch", explicit_batch)


def task_get():
    # Classic tasks.task.get through call() (so through a classic batch).
    result = bx.call("tasks.task.get", {"taskId": TASK_ID, "select": ["ID", "TITLE"]})
    task = result.get("task", result) if isinstance(result, dict) else result
    return {"task": {"id": task["id"], "title": task["title"]}}


step("classicTaskGet", task_get)


def from_message():
    # REST 3.0 through raw=True on the REST 3.0 webhook base.
    if not posted["ok"]:
        raise RuntimeError("no message id: call() of im.message.add failed")
    answer = bx3.call(
        "tasks.task.result.addfromchatmessage",
        {"fields": {"messageId": posted["messageIds"][1]}},
        raw=True,
    )
    return {"item": answer["result"]["item"]}


made = step("addFromChatMessage", from_message)


def result_list():
    # Classic tasks.task.result.list (`taskId`) through get_all().
    items = bx.get_all("tasks.task.result.list", {"taskId": TASK_ID})
    return {"items": [{"id": int(r["id"]), "text": r["text"]} for r in items]}


step("classicResultList", result_list)


def delete():
    if not made["ok"]:
        raise RuntimeError("nothing to delete: addFromChatMessage failed")
    answer = bx3.call("tasks.task.result.delete", {"id": made["item"]["id"]}, raw=True)
    return {"result": answer["result"]["result"]}


step("delete", delete)

sys.stdout.write(redact(json.dumps(summary)) + "\n")
