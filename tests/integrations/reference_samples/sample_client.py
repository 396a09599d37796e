"""The chat client the reference-style samples use here: the model is replaced by a script.

In the reference's own samples this is a hosted model client (Foundry, OpenAI...); a sample
is otherwise unchanged. The script asks for one `execute_code` call with SAMPLE_PROGRAM, then
answers with what the program printed.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from af_scripted_client import ScriptedChatClient, answer_with_result, run_code

SAMPLE_PROGRAM = """\
users = call_tool("fetch_data", table="users")
admins = [user["name"] for user in users if user["role"] == "admin"]
product = call_tool("compute", operation="multiply", a=7, b=6)
print("Users:", [user["name"] for user in users])
print("Admins:", admins)
print("7 * 6 =", product)
"""


def get_client() -> ScriptedChatClient:
    return ScriptedChatClient([run_code(SAMPLE_PROGRAM), answer_with_result("Result: ")])
