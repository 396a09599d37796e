"""The standard library in the sandbox: every pure-Python module a backend claims imports, and
the functions people commonly call work (dates parsed with strptime among them: on ``wasm``
they used to fail with ``No module named '_strptime'``, a module imported lazily and so left
out of the guest)."""

# ruff: noqa: E501 (the table of snippets reads best one call per line)
from __future__ import annotations

import json
import re
from collections.abc import Callable

from codeact import CodeAct

# module -> a snippet that calls its commonly used functions (it must not raise).
USES: dict[str, str] = {
    "datetime": (
        "d = datetime.datetime.strptime('2023-12-25 10:30', '%Y-%m-%d %H:%M')\n"
        "assert d.strftime('%d/%m/%Y') == '25/12/2023'\n"
        "assert datetime.date.fromisoformat('2023-11-10').isoweekday() == 5\n"
        "assert (datetime.date(2024, 3, 1) - datetime.timedelta(days=1)).day == 29\n"
        "assert datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc).isoformat()"
        ".endswith('+00:00')\n"
        "datetime.datetime.now()"
    ),
    "time": (
        "assert time.strptime('2023-12-25', '%Y-%m-%d').tm_yday == 359\n"
        "assert time.strftime('%Y', time.gmtime(0)) == '1970'\n"
        "time.time(); time.monotonic(); time.perf_counter(); time.sleep(0)"
    ),
    "calendar": "assert calendar.monthrange(2024, 2)[1] == 29 and calendar.isleap(2024)\n"
    "calendar.month_name[1]; calendar.timegm((2023, 1, 1, 0, 0, 0))",
    "zoneinfo": "import datetime\ntz = zoneinfo.ZoneInfo('Europe/Paris')\n"
    "assert str(datetime.datetime(2024, 7, 1, 12, tzinfo=tz)) == '2024-07-01 12:00:00+02:00'\n"
    "assert str(datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo('America/New_York')))"
    ".endswith('-05:00')\n"
    "assert {'UTC', 'Asia/Tokyo', 'America/Sao_Paulo'} <= zoneinfo.available_timezones()",
    "json": "assert json.loads(json.dumps({'a': [1, 2.5, None]}, indent=2)) == {'a': [1, 2.5, None]}",
    "re": "assert re.findall(r'\\d+', 'a1b22') == ['1', '22'] and re.sub('a', 'b', 'aa') == 'bb'",
    "csv": "import io\nrows = list(csv.DictReader(io.StringIO('a,b\\n1,2\\n')))\n"
    "assert rows == [{'a': '1', 'b': '2'}]\nw = csv.writer(io.StringIO()); w.writerow([1, 'x'])",
    "collections": "c = collections.Counter('abca'); assert c.most_common(1) == [('a', 2)]\n"
    "collections.defaultdict(list)['k'].append(1); collections.OrderedDict(a=1)\n"
    "collections.namedtuple('P', 'x y')(1, 2); collections.deque([1]).appendleft(0)",
    "statistics": "assert statistics.mean([1, 2, 3]) == 2 and statistics.median([3, 1, 2]) == 2\n"
    "statistics.stdev([1, 2, 3, 4]); statistics.mode([1, 1, 2])",
    "math": "assert math.isclose(math.sqrt(2) ** 2, 2) and math.floor(2.5) == 2\n"
    "math.log(8, 2); math.prod([1, 2, 3]); math.comb(5, 2)",
    "decimal": "assert str(decimal.Decimal('1.10') + decimal.Decimal('2.205')) == '3.305'\n"
    "decimal.Decimal('2.675').quantize(decimal.Decimal('0.01'), rounding=decimal.ROUND_HALF_UP)",
    "fractions": "assert fractions.Fraction(1, 3) + fractions.Fraction(1, 6) == fractions.Fraction(1, 2)",
    "random": "random.seed(1); random.random(); random.choice([1, 2]); random.shuffle([1, 2])\n"
    "random.randint(1, 6); random.sample(range(10), 3); random.uniform(0, 1)",
    "itertools": "assert list(itertools.permutations([1, 2])) == [(1, 2), (2, 1)]\n"
    "list(itertools.combinations('abc', 2)); list(itertools.groupby('aab'))\n"
    "list(itertools.product([1], [2])); list(itertools.accumulate([1, 2]))",
    "functools": "assert functools.reduce(lambda a, b: a + b, [1, 2, 3]) == 6\n"
    "functools.lru_cache(maxsize=None)(lambda x: x)(1); functools.partial(int, base=2)('10')",
    "operator": "assert sorted([{'a': 2}, {'a': 1}], key=operator.itemgetter('a'))[0] == {'a': 1}",
    "heapq": "assert heapq.nlargest(2, [1, 5, 3]) == [5, 3] and heapq.nsmallest(1, [4, 2]) == [2]",
    "bisect": "assert bisect.bisect_left([1, 2, 4], 3) == 2",
    "string": "assert string.ascii_lowercase[:3] == 'abc' and string.Template('$a').substitute(a=1) == '1'",
    "textwrap": "assert textwrap.wrap('a b c', 3) == ['a b', 'c'] and textwrap.dedent('  x') == 'x'\n"
    "textwrap.shorten('hello world', 8); textwrap.fill('a b', 10); textwrap.indent('a', ' ')",
    "base64": "assert base64.b64decode(base64.b64encode(b'hi')) == b'hi'\n"
    "base64.urlsafe_b64encode(b'x'); base64.b16encode(b'x'); base64.b32encode(b'x')",
    "binascii": "assert binascii.unhexlify(binascii.hexlify(b'hi')) == b'hi'",
    "codecs": "assert codecs.decode('68656c6c6f', 'hex') == b'hello' and codecs.encode('abc', 'rot13') == 'nop'\n"
    "'x'.encode('latin-1'); 'x'.encode('utf-16'); 'x'.encode('ascii'); 'é'.encode('cp1252')\n"
    "'bücher.de'.encode('idna'); b'x'.decode('utf-8-sig'); 'x'.encode('unicode_escape')",
    "hashlib": "assert hashlib.sha256(b'x').hexdigest().startswith('2d71')\n"
    "hashlib.md5(b'x').hexdigest(); hashlib.sha1(b'x').digest(); hashlib.blake2b(b'x')",
    "hmac": "hmac.new(b'k', b'm', 'sha256').hexdigest(); hmac.compare_digest('a', 'a')",
    "secrets": "secrets.token_hex(8); secrets.token_urlsafe(8); secrets.choice('ab')",
    "uuid": "uuid.uuid4(); assert str(uuid.UUID('12345678123456781234567812345678')).count('-') == 4\n"
    "uuid.uuid5(uuid.NAMESPACE_DNS, 'x')",
    "struct": "assert struct.unpack('<I', struct.pack('<I', 7)) == (7,)",
    "dataclasses": "@dataclasses.dataclass\nclass P:\n    x: int\nassert dataclasses.asdict(P(1)) == {'x': 1}",
    "enum": "class C(enum.Enum):\n    A = 1\nassert C(1) is C.A and C['A'].value == 1",
    "typing": "typing.NamedTuple('T', [('a', int)])(1); typing.TypedDict('D', {'a': int})",
    "copy": "d = {'a': [1]}; assert copy.deepcopy(d) == d and copy.copy(d) is not d",
    "pprint": "pprint.pformat({'a': list(range(30))}); pprint.pprint({'a': 1})",
    "difflib": "assert difflib.SequenceMatcher(None, 'abc', 'abd').ratio() > 0.6\n"
    "difflib.get_close_matches('appel', ['apple', 'ape']); list(difflib.unified_diff(['a'], ['b']))",
    "fnmatch": "assert fnmatch.fnmatch('a.py', '*.py')",
    "html": "assert html.unescape('&amp;&eacute;') == '&é' and html.escape('<') == '&lt;'\n"
    "import html.parser\nhtml.parser.HTMLParser().feed('<p>x</p>')",
    "urllib": "import urllib.parse\nassert urllib.parse.urlparse('https://a.b/c?d=1').query == 'd=1'\n"
    "urllib.parse.urlencode({'a': 'b c'}); urllib.parse.quote('a b'); urllib.parse.parse_qs('a=1')\n"
    "urllib.parse.urljoin('https://a.b/c/', 'd')",
    "ipaddress": "assert ipaddress.ip_address('10.0.0.1') in ipaddress.ip_network('10.0.0.0/8')",
    "email": "import email.utils, email.message, email.parser\n"
    "email.utils.parsedate_to_datetime('Mon, 20 Nov 1995 19:12:08 -0500')\n"
    "email.utils.parseaddr('A <a@b.c>'); email.utils.formatdate(0)\n"
    "m = email.message.EmailMessage(); m['To'] = 'a@b.c'; m.set_content('hi'); m.as_string()\n"
    "email.parser.Parser().parsestr('Subject: x\\n\\nbody')\n"
    "import email.mime.text, email.mime.multipart\n"
    "email.mime.multipart.MIMEMultipart().attach(email.mime.text.MIMEText('x'))",
    "xml": "import xml.etree.ElementTree as ET\n"
    "assert ET.fromstring('<a><b>1</b></a>').find('b').text == '1'\n"
    "ET.tostring(ET.Element('x'))\nimport xml.dom.minidom\nxml.dom.minidom.parseString('<a/>').toxml()",
    "tomllib": "assert tomllib.loads('a = 1')['a'] == 1",
    "zlib": "assert zlib.decompress(zlib.compress(b'x' * 100)) == b'x' * 100",
    "gzip": "assert gzip.decompress(gzip.compress(b'x')) == b'x'",
    "zipfile": "import io\nb = io.BytesIO()\nwith zipfile.ZipFile(b, 'w') as z:\n"
    "    z.writestr('a.txt', 'x')\nassert zipfile.ZipFile(b).read('a.txt') == b'x'",
    "pickle": "assert pickle.loads(pickle.dumps({'a': (1, 2)})) == {'a': (1, 2)}",
    "shlex": "assert shlex.split('a \"b c\"') == ['a', 'b c'] and shlex.quote('a b') == \"'a b'\"",
    "locale": "locale.getlocale(); locale.localeconv()",
    "logging": "logging.basicConfig(level=logging.INFO)\nlogging.getLogger('x').info('hi')\n"
    "logging.warning('w')",
    "asyncio": "async def f():\n    await asyncio.sleep(0)\n    return 1\n"
    "assert asyncio.run(f()) == 1",
    "inspect": "inspect.signature(lambda a, b=1: a); inspect.isfunction(len)",
    "traceback": "try:\n    1 / 0\nexcept ZeroDivisionError:\n    traceback.format_exc()",
    "pathlib": "assert pathlib.PurePosixPath('/a/b.txt').suffix == '.txt'",
    "os": "os.getcwd(); os.path.join('a', 'b'); os.environ.get('X'); os.sep",
    "graphlib": "assert list(graphlib.TopologicalSorter({'b': {'a'}}).static_order()) == ['a', 'b']",
    "array": "assert array.array('i', [1, 2]).tolist() == [1, 2]",
    "cmath": "assert cmath.sqrt(-1) == 1j",
    "colorsys": "colorsys.rgb_to_hsv(0.2, 0.4, 0.4)",
    "numbers": "assert isinstance(1, numbers.Number)",
    "unicodedata": "assert unicodedata.normalize('NFKD', 'é')[0] == 'e' and unicodedata.name('a')",
    "mimetypes": "mimetypes.guess_type('a.json')",
    "quopri": "quopri.encodestring(b'x=y')",
    "sqlite3": "c = sqlite3.connect(':memory:'); c.execute('select 1').fetchone()",
    "glob": "glob.glob('*.nothing')",
    "keyword": "assert keyword.iskeyword('for')",
    "weakref": "class A: pass\na = A(); weakref.ref(a)",
    "warnings": "warnings.warn('x'); warnings.filterwarnings('ignore')",
    "contextlib": "with contextlib.suppress(KeyError):\n    {}['x']",
    "queue": "q = queue.Queue(); q.put(1); assert q.get() == 1",
    "threading": "threading.Lock(); threading.current_thread()",
    "reprlib": "reprlib.repr(list(range(100)))",
    "tokenize": "import io\nlist(tokenize.generate_tokens(io.StringIO('a = 1').readline))",
    "ast": "assert ast.literal_eval('[1, {\"a\": 2}]') == [1, {'a': 2}]",
    "dis": "dis.Bytecode(lambda: 1)",
    "io": "io.StringIO('x').read(); io.BytesIO(b'x').read()",
    "types": "types.SimpleNamespace(a=1)",
    "abc": "class A(abc.ABC):\n    @abc.abstractmethod\n    def f(self): ...",
    "concurrent": "import concurrent.futures\nconcurrent.futures.Future()",
    "shutil": "shutil.get_terminal_size()",
}

PROGRAM = """
import importlib, json
failed = {}
for name in json.loads(CLAIMED):
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"import: {type(exc).__name__}: {exc}"[:300]
for name, snippet in json.loads(USES).items():
    try:
        exec(snippet, {name: importlib.import_module(name)})
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"[:300]
print(json.dumps(failed))
"""


def claimed_modules(codeact: CodeAct) -> list[str]:
    """The modules the sandbox says it has (wasm lists them when an import fails); [] for a
    backend that runs the host's full CPython (its stdlib is then checked through USES)."""
    result = codeact.execute_sync("import no_such_module_here")
    message = result.error.message if result.error else ""
    found = re.search(r"its modules are: (.*)", message)
    return [m.strip() for m in found.group(1).split(",")] if found else []


def test_every_claimed_module_imports_and_common_functions_work(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact()
    claimed = claimed_modules(codeact)
    if codeact.backend.name == "wasm":
        assert {"datetime", "json", "re"} <= set(claimed), claimed
    program = PROGRAM.replace("CLAIMED", repr(json.dumps(claimed))).replace(
        "USES", repr(json.dumps(USES))
    )
    result = codeact.execute_sync(program)
    assert result.ok, result.error
    failed = json.loads(result.stdout.strip().splitlines()[-1])
    assert failed == {}, failed


def test_an_unknown_time_zone_says_which_there_are(make_codeact: Callable[..., CodeAct]) -> None:
    # On wasm, ZoneInfo('Europe/Paris') failed: the guest had no time-zone data.
    result = make_codeact().execute_sync("import zoneinfo\nzoneinfo.ZoneInfo('Europe/Pariss')")
    assert result.error is not None and result.error.type == "ZoneInfoNotFoundError"
    assert "zoneinfo.available_timezones() lists the" in result.error.traceback
