"""Drives the REST 3.0 task-result methods, a batch of REST 3.0 requests and a classic
batch through the official Python SDK (b24pysdk), as an application would, and prints
one JSON summary on stdout.

Input (environment):
  B24_WEBHOOK_URL  the incoming webhook, classic form https://HOST/rest/USER/SECRET/
  B24_TASK_ID      the task to write results to (default 51)
  B24_CHAT_ID      that task's chat (default 58)

The SDK talks HTTPS through `requests`, which trusts the CA bundle named by
REQUESTS_CA_BUNDLE. The webhook secret never reaches the output: every error text is
passed through redact() before it is printed.
"""

import json
import os
import sys
from importlib.metadata import version
from urllib.parse import urlsplit

from b24pysdk import BitrixWebhook, Client
from b24pysdk.errors import BitrixSDKException

HOOK_URL = os.environ.get("B24_WEBHOOK_URL", "")
TASK_ID = int(os.environ.get("B24_TASK_ID", "51"))
CHAT_ID = int(os.environ.get("B24_CHAT_ID", "58"))

_parts = urlsplit(HOOK_URL)
_path = [p for p in _parts.path.split("/") if p]
# /rest/USER/SECRET
USER_ID, SECRET = (_path[1], _path[2]) if len(_path) == 3 and _path[0] == "rest" else ("", "")


def redact(text):
    text = str(text)
    return text.replace(SECRET, "[redacted]") if SECRET else text


def error_of(e):
    """Code, HTTP status and description of an SDK exception (v3 or classic shape)."""
    response = getattr(e, "response", None)
    status = getattr(response, "status_code", None)
    body = getattr(e, "json_response", None)
    code = None
    description = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = err.get("code")
            description = err.get("message")
        else:
            code = err
            description = body.get("error_description")
    if code is None:
        code = type(e).__name__
    if description is None:
        description = getattr(e, "message", None) or str(e)
    return {"code": code, "status": status, "description": redact(description)}


class CommandFailure(Exception):
    """A failed command inside a batch: its error code and description."""

    def __init__(self, error):
        inner = error.get("error") if isinstance(error, dict) else error
        if isinstance(inner, dict):
            code, description = inner.get("code"), inner.get("message")
        else:
            code = inner
            description = error.get("error_description") if isinstance(error, dict) else None
        super().__init__(description)
        self.code = code
        self.description = redact(description)


summary = {"sdk": "b24pysdk", "version": version("b24pysdk"), "steps": {}}


def step(name, fn):
    """Runs one step; an exception is recorded and the next step still runs."""
    try:
        summary["steps"][name] = {"ok": True, **fn()}
    except BitrixSDKException as e:
        summary["steps"][name] = {"ok": False, "error": error_of(e)}
    except CommandFailure as e:
        summary["steps"][name] = {
            "ok": False,
            "error": {"code": e.code, "status": 200, "description": e.description},
        }
    except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
        summary["steps"][name] = {
            "ok": False,
            "error": {"code": type(e).__name__, "status": None, "description": redact(e)},
        }
    return summary["steps"][name]


class Skipped(Exception):
    pass


webhook = BitrixWebhook(domain=_parts.netloc, webhook_token=f"{USER_ID}/{SECRET}")
classic = Client(webhook)  # REST v2 (the SDK's default)
v3 = Client(webhook, prefer_version=3)  # REST 3.0 for the methods the SDK knows as v3


def classic_batch():
    # A classic batch (`/rest/USER/SECRET/batch.json`): post a message to the task
    # chat, then read the chat's newest message back.
    batch = classic.call_batch(
        {
            "posted": classic.im.message.add(
                f"chat{CHAT_ID}", message="Quarterly report is ready (Python SDK)"
            ),
            "history": classic.im.dialog.messages.get(f"chat{CHAT_ID}", limit=1),
        },
        halt=True,
    )
    result = batch.result
    if result.result_error:
        key, error = next(iter(dict(result.result_error).items()))
        raise CommandFailure(error)
    messages = result.result["history"]["messages"]
    newest = messages[0] if messages else None
    return {
        "messageId": result.result["posted"],
        "newestMessage": None if newest is None else {"id": newest["id"], "text": newest["text"]},
    }


posted = step("classicBatch", classic_batch)


def add_from_chat_message():
    if not posted["ok"]:
        raise Skipped("no message id: the classic batch failed")
    request = v3.tasks.task.result.addfromchatmessage({"messageId": posted["messageId"]})
    return {"item": request.result["item"]}


from_message = step("addFromChatMessage", add_from_chat_message)

added = step(
    "add",
    lambda: {
        "item": v3.tasks.task.result.add(
            {"taskId": TASK_ID, "text": "Draft figures attached (Python SDK)"}
        ).result["item"]
    },
)


def update():
    if not added["ok"]:
        raise Skipped("nothing to update: add failed")
    request = v3.tasks.task.result.update(
        added["item"]["id"], {"text": "Final figures attached (Python SDK)"}
    )
    return {"item": request.result["item"]}


step("update", update)



step(
    "list",
    lambda: {
        "items": v3.tasks.task.result.list(
            [["taskId", TASK_ID]], select=["id", "text", "messageId"], order={"id": "ASC"}
        ).result["items"]
    },
)


def delete():
    if not added["ok"]:
        raise Skipped("nothing to delete: add failed")
    return {"result": v3.tasks.task.result.delete(added["item"]["id"]).result["result"]}


step("delete", delete)

step(
    "listAfterDelete",
    lambda: {
        "items": v3.tasks.task.result.list(
            [["taskId", TASK_ID]], select=["id", "text"], order={"id": "ASC"}
        ).result["items"]
    },
)

def v3_requests_batch():
    # REST 3.0 requests in one batch: the SDK sends them through the classic batch
    # (`/rest/USER/SECRET/batch.json`, each command as `method?query`).
    if not from_message["ok"]:
        raise Skipped("nothing to update: addFromChatMessage failed")
    batch = v3.call_batch(
        {
            "updated": v3.tasks.task.result.update(
                from_message["item"]["id"], {"text": "Checked by the Python SDK batch"}
            ),
            "listed": v3.tasks.task.result.list(
                [["taskId", TASK_ID]], select=["id", "text", "messageId"], order={"id": "ASC"}
            ),
        },
        halt=True,
    )
    result = batch.result
    if result.result_error:
        key, error = next(iter(dict(result.result_error).items()))
        raise CommandFailure(error)
    return {
        "updated": result.result["updated"]["item"],
        "listed": result.result["listed"]["items"],
    }


step("v3Batch", v3_requests_batch)

sys.stdout.write(redact(json.dumps(summary)) + "\n")
