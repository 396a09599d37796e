"""The smolagents executor, under smolagents' own `CodeAgent` loop and a scripted `Model`.

The sandbox is real; only the model is scripted: each reply is a code block, as smolagents
tells models to write them, and the model is given the agent's memory (observations and
errors) before each reply, so a test can check what the model was shown.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

pytest.importorskip("smolagents", reason="needs pip install -e '.[smolagents]'")

from smolagents import ChatMessage, CodeAgent, Model, Tool, tool
from smolagents.local_python_executor import InterpreterError
from smolagents.memory import ActionStep
from smolagents.models import MessageRole

from codeact import ApproveAll, ConfigurationError, DenyAll, Limits
from codeact.integrations.smolagents import CodeActExecutor

pytestmark = pytest.mark.usefixtures("wasm_ready")


class ScriptedModel(Model):
    """Answers with the given replies in turn, and keeps the messages it was shown."""

    def __init__(self, *replies: str) -> None:
        super().__init__(model_id="scripted")
        self.replies = list(replies)
        self.shown: list[str] = []

    def generate(self, messages: list[Any], **kwargs: Any) -> ChatMessage:
        self.shown.append("\n".join(_text(m) for m in messages))
        if not self.replies:
            raise AssertionError("the agent asked the model for more replies than scripted")
        code = self.replies.pop(0)
        return ChatMessage(
            role=MessageRole.ASSISTANT, content=f"Thought: go.\n<code>\n{code}\n</code>"
        )


def _text(message: Any) -> str:
    content = message.content if hasattr(message, "content") else message.get("content")
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content)
    return str(content or "")


class WeatherClient:
    """A credentialed client that lives on the host: a lock and a secret cannot be copied
    into a sandbox as tool source (smolagents' remote executors would have to, #1730)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.api_key = "sk-host-only"
        self.cities: list[str] = []

    def temperature(self, city: str) -> float:
        with self.lock:
            self.cities.append(city)
        return {"Paris": 21.5, "Oslo": 4.0}[city]


class GetWeather(Tool):
    name = "get_weather"
    description = "The weather in a city."
    inputs = {"city": {"type": "string", "description": "The city."}}  # noqa: RUF012
    output_type = "object"

    def __init__(self, client: WeatherClient) -> None:
        super().__init__()
        self.client = client

    def forward(self, city: str) -> dict[str, Any]:
        return {"city": city, "temp_c": self.client.temperature(city)}


@tool
def to_fahrenheit(celsius: float) -> float:
    """Celsius to Fahrenheit.

    Args:
        celsius: A temperature in degrees Celsius.
    """
    return celsius * 9 / 5 + 32


SENT: list[str] = []


@tool
def send_email(to: str, body: str) -> str:
    """Send an email.

    Args:
        to: The address.
        body: The text.
    """
    SENT.append(to)
    return "sent"


def agent(model: ScriptedModel, executor: CodeActExecutor, tools: list[Any]) -> CodeAgent:
    return CodeAgent(tools=tools, model=model, executor=executor, verbosity_level=-1)


def action_steps(run_agent: CodeAgent) -> list[ActionStep]:
    return [s for s in run_agent.memory.steps if isinstance(s, ActionStep)]


def test_a_program_calls_two_tools_on_the_host_then_gives_the_final_answer() -> None:
    client = WeatherClient()
    model = ScriptedModel(
        'w = get_weather(city="Paris")\n'
        'f = to_fahrenheit(celsius=w["temp_c"])\n'
        "print(f\"{w['city']}: {f:.1f} F\")\n"
        "final_answer(round(f, 1))\n"
        'print("not reached: final_answer ends the program")'
    )
    executor = CodeActExecutor(limits=Limits(wall_time=20))
    run_agent = CodeAgent(
        tools=[GetWeather(client), to_fahrenheit],
        model=model,
        executor=executor,
        instructions=executor.instructions,
        verbosity_level=-1,
    )
    assert run_agent.run("How warm is Paris, in Fahrenheit?") == 70.7
    assert "isolated sandbox" in model.shown[0]  # codeact's rules are in the system prompt
    assert "top-level variables, functions, classes and imports are kept" in model.shown[0]
    assert client.cities == ["Paris"]  # the tool ran here, with its client and secret
    (step,) = action_steps(run_agent)
    assert step.is_final_answer and step.error is None
    assert "Paris: 70.7 F" in (step.observations or "")
    assert "not reached" not in (step.observations or "")


def test_a_failing_program_is_an_error_step_and_the_agent_goes_on() -> None:
    model = ScriptedModel(
        'print("before")\nw = get_weather(city="Lyon")',  # KeyError in the tool
        'final_answer(get_weather(city="Oslo")["temp_c"])',
    )
    run_agent = agent(model, CodeActExecutor(), [GetWeather(WeatherClient())])
    assert run_agent.run("How warm is it?") == 4.0
    failed, finished = action_steps(run_agent)
    assert failed.error is not None and "KeyError" in str(failed.error)
    assert "before" in (failed.observations or "")  # what it printed before it failed
    assert finished.is_final_answer
    assert "KeyError" in model.shown[1]  # the model was shown the error


def test_a_program_stopped_by_a_limit_says_which() -> None:
    model = ScriptedModel("while True:\n    pass", 'final_answer("gave up")')
    run_agent = agent(model, CodeActExecutor(limits=Limits(wall_time=1)), [])
    assert run_agent.run("Loop.") == "gave up"
    stopped = action_steps(run_agent)[0]
    assert "[stopped]" in str(stopped.error) and "wall_time=1s" in str(stopped.error)


def test_a_denied_call_fails_the_step_and_the_tool_does_not_run() -> None:
    SENT.clear()
    model = ScriptedModel(
        'send_email(to="ann@example.com", body="hi")',
        'try:\n    send_email(to="ann@example.com", body="hi")\n'
        "except ToolDenied as e:\n    final_answer(f'not sent: {e}')",
    )
    executor = CodeActExecutor(require_approval=["send_email"], approval_handler=DenyAll())
    run_agent = agent(model, executor, [send_email])
    answer = run_agent.run("Email Ann.")
    assert SENT == []
    assert isinstance(answer, str) and answer.startswith("not sent:")
    denied = action_steps(run_agent)[0]
    assert "ToolDenied: the call of send_email() was denied" in str(denied.error)


def test_an_approved_call_runs() -> None:
    SENT.clear()
    model = ScriptedModel('final_answer(send_email(to="bob@example.com", body="hi"))')
    executor = CodeActExecutor(require_approval=["send_email"], approval_handler=ApproveAll())
    assert agent(model, executor, [send_email]).run("Email Bob.") == "sent"
    assert SENT == ["bob@example.com"]


def test_variables_functions_and_imports_are_kept_between_steps() -> None:
    model = ScriptedModel(
        "import statistics\n"
        'temps = [get_weather(city=c)["temp_c"] for c in ("Paris", "Oslo")]\n'
        "def spread(xs):\n    return max(xs) - min(xs)\n"
        "print(len(temps))",
        "final_answer({'mean': statistics.mean(temps), 'spread': spread(temps)})",
    )
    executor = CodeActExecutor()
    run_agent = agent(model, executor, [GetWeather(WeatherClient())])
    assert run_agent.run("Mean and spread?") == {"mean": 12.75, "spread": 17.5}
    assert {"temps", "spread", "statistics"} <= set(executor.session.names)


def test_a_managed_agent_is_called_from_the_program_and_runs_on_the_host() -> None:
    helper = CodeAgent(
        tools=[to_fahrenheit],
        model=ScriptedModel("final_answer(to_fahrenheit(celsius=21.5))"),
        executor=CodeActExecutor(),  # its own steps run in a sandbox of their own
        name="converter",
        description="Converts temperatures.",
        verbosity_level=-1,
    )
    model = ScriptedModel('report = converter(task="21.5 C in F?")\nfinal_answer(report)')
    boss = CodeAgent(
        tools=[],
        model=model,
        executor=CodeActExecutor(),
        managed_agents=[helper],
        verbosity_level=-1,
    )
    answer = boss.run("Ask the converter.")
    assert "70.7" in answer and "converter" in answer


def test_a_failed_step_keeps_the_variables_as_they_were() -> None:
    model = ScriptedModel("n = 1", "n = 2\n1 / 0", "final_answer(n)")
    assert agent(model, CodeActExecutor(), []).run("Count.") == 1


def test_additional_args_reach_the_program() -> None:
    model = ScriptedModel("final_answer(sum(order['qty'] for order in orders) * factor)")
    run_agent = agent(model, CodeActExecutor(), [])
    orders = [{"qty": 2}, {"qty": 3}]
    assert run_agent.run("Total?", additional_args={"orders": orders, "factor": 10}) == 50


def test_additional_args_that_are_not_json_are_refused_in_one_line() -> None:
    run_agent = agent(ScriptedModel(), CodeActExecutor(), [])
    with pytest.raises(ConfigurationError, match=r"additional_args\['lock'\] is a lock"):
        run_agent.run("x", additional_args={"lock": threading.Lock()})


def test_additional_args_must_be_python_names() -> None:
    run_agent = agent(ScriptedModel(), CodeActExecutor(), [])
    for bad in ("my-data", "class"):
        with pytest.raises(ConfigurationError, match="is not a Python name"):
            run_agent.run("x", additional_args={bad: 1})


def test_the_executor_works_again_after_cleanup() -> None:
    executor = CodeActExecutor()
    assert executor("n = 5\nn").output == 5
    executor.cleanup()  # what `with CodeAgent(...) as agent:` does on leaving
    assert executor("n + 1").output == 6


def test_plain_functions_given_to_the_executor_are_tools_too() -> None:
    def double(x: int) -> int:
        """Twice x."""
        return 2 * x

    model = ScriptedModel("final_answer(double(21))")
    executor = CodeActExecutor(tools=[double])
    assert "- double(x: int) -> int: Twice x." in executor.instructions  # not in smolagents'
    assert agent(model, executor, []).run("Double 21.") == 42


def test_a_non_final_step_returns_its_last_value() -> None:
    executor = CodeActExecutor()
    output = executor("x = 20\nx + 1")
    assert (output.output, output.is_final_answer, output.logs) == (21, False, "")
    with pytest.raises(InterpreterError, match="NameError"):
        executor("undefined_name")


def test_a_tool_named_twice_is_refused() -> None:
    executor = CodeActExecutor(tools=[to_fahrenheit])
    executor.send_tools({"to_fahrenheit": to_fahrenheit})  # the same tool again: fine

    @tool
    def to_fahrenheit_other(celsius: float) -> float:
        """Another one.

        Args:
            celsius: A temperature.
        """
        return celsius

    with pytest.raises(ConfigurationError, match="give it once"):
        executor.send_tools({"to_fahrenheit": to_fahrenheit_other})


def test_codeact_and_its_options_are_not_both_accepted() -> None:
    from codeact import CodeAct

    with pytest.raises(ConfigurationError, match="not both"):
        CodeActExecutor(codeact=CodeAct(), limits=Limits(wall_time=5))


def test_a_program_cannot_pass_a_name_the_tools_inputs_do_not_declare() -> None:
    executor = CodeActExecutor(tools=[to_fahrenheit])
    code = (
        "try:\n    to_fahrenheit(celsius=1, api_key='forged')\nexcept ToolError as e:\n    print(e)"
    )
    result = executor.codeact.execute_sync(code)
    assert "invalid arguments for to_fahrenheit(): unexpected argument 'api_key'" in result.stdout
