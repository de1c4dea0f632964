"""The load of bench/load.py, in its own process: Locust users, the step shape that raises them,
and a stand-in for Telegram's Bot API server that the bot process calls.

Run by bench/load.py (``python bench/load_users.py CONFIG.json RESULT.json``), which prepares
the database, starts the web and the bot, and prints the result. Locust patches the standard
library for gevent when it is imported, so this process imports nothing of Django.

Who is simulated (the weights are each group's share of the users):

- commune officials (30%): sign in through the admin form with a password and a TOTP code from
  their own authenticator key, then browse the household, resident, member and visit lists with
  searches and filters, open a household or a resident, look at their commune's dashboard;
- province analysts (10%): sign in the same way, read the province's dashboard (by commune, by
  former district, another month), commune, hamlet, team and former-district pages;
- volunteers (40%): talk to the bot as Telegram would, through its webhook with the secret
  header (real update JSON, built by cnsc.bot.testing.Updates): a whole visit conversation, a
  check-in with their location, their worklist or their figures. Each step is timed from the
  POST to the bot's answer reaching the fake Bot API server (what the volunteer waits for);
- the operations centre (10%): machine clients, each with its own token, reading /api/v1/;
- residents (10%): scan a badge, GET /verify/<code>, each from their own address (the proxy's
  X-Real-IP header), now and then a mistyped code (404 is the right answer then).

Two abusive clients run only in the second phase: a client flooding the API with one token,
and a scraper trying verification codes from one address. Their 429 answers are expected and
counted apart; the other users' latency in that phase is compared with the first phase.
"""

from __future__ import annotations

import datetime as dt
import hmac
import itertools
import json
import os
import random
import re
import socket
import struct
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer
from locust import HttpUser, LoadTestShape, between, constant_pacing, events, task
from locust.env import Environment
from locust.runners import STATE_STOPPED

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIG: dict[str, Any] = {}
# Which phase is running (set by the shape), and every finished request:
# (phase, group, label, milliseconds, status, failed, monotonic time).
PHASE: dict[str, Any] = {"index": -1, "abuse": False}
SAMPLES: list[tuple[int, str, str, float, int, bool, float]] = []
FIRST_429: dict[str, float] = {}
# Judged; "sign-in" is shown, not judged (see Browser.sign_in).
NORMAL_GROUPS = ("official", "province", "volunteer", "webhook", "ioc", "resident")
ABUSE_GROUPS = ("api flood", "verify scraper")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
REPLY_TIMEOUT = 30.0
MIN_JUDGED = 20
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def today() -> dt.date:
    return dt.datetime.now(tz=ZoneInfo("Asia/Ho_Chi_Minh")).date()


def month(day: dt.date, back: int = 0) -> str:
    index = day.year * 12 + day.month - 1 - back
    return f"{index // 12}{index % 12 + 1:02d}"


def totp(key_hex: str, at: float | None = None) -> str:
    """RFC 6238 code, as django-otp's TOTPDevice checks it (30 s steps, 6 digits)."""
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", counter), "sha1").digest()
    offset = digest[-1] & 0x0F
    code = (int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def mobile_address() -> str:
    """An address in the carrier-grade NAT range, as residents' phones reach the proxy."""
    return f"100.{random.randint(64, 127)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class Pool:
    """Accounts handed out one per simulated user (a TOTP code is accepted once per account)."""

    def __init__(self) -> None:
        self.taken: dict[str, int] = defaultdict(int)

    def take(self, kind: str) -> dict[str, Any] | None:
        items = CONFIG[kind]
        index = self.taken[kind]
        self.taken[kind] += 1
        return items[index] if index < len(items) else None


POOL = Pool()


# --- The Bot API stand-in ------------------------------------------------------------------------


class ChatLog:
    """What the bot sent to one chat: a sequence number per call, and the latest keyboard."""

    def __init__(self) -> None:
        self.seq = 0
        self.calls: deque[tuple[int, str]] = deque(maxlen=32)
        self.keyboard: tuple[int, list[tuple[str, str]]] = (0, [])
        self.text = ""
        self.changed = Event()

    def record(self, method: str, params: dict[str, Any], message_id: int | None) -> None:
        self.seq += 1
        self.calls.append((self.seq, method))
        if method in ("sendMessage", "editMessageText") and message_id is not None:
            markup = params.get("reply_markup") or {}
            if isinstance(markup, str):
                markup = json.loads(markup)
            buttons = [
                (b.get("text", ""), b.get("callback_data", ""))
                for row in markup.get("inline_keyboard", [])
                for b in row
            ]
            self.keyboard = (message_id, buttons)
            self.text = str(params.get("text", ""))
        self.changed.set()

    def wait(self, after: int, methods: tuple[str, ...], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self.changed.clear()
            if any(seq > after and method in methods for seq, method in self.calls):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.wait(left)


class FakeBotApi:
    """Answers the bot's Bot API calls like Telegram (the shapes cnsc.bot.testing.FakeTelegram
    answers in the tests) and tells the waiting volunteer when their answer arrived."""

    def __init__(self, token: str) -> None:
        self.prefix = f"/bot{token}/"
        self.chats: dict[int, ChatLog] = defaultdict(ChatLog)
        self.callbacks: dict[str, int] = {}
        self.message_ids = itertools.count(10_000)
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(self.prefix):
            return self._reply(start_response, 401, {"ok": False, "error_code": 401})
        method = path[len(self.prefix) :]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        kind = environ.get("CONTENT_TYPE", "")
        if "json" in kind:
            params = json.loads(body or b"{}")
        elif "multipart" in kind:
            params = {}  # a document: nobody waits for one in this load
        else:
            params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.calls += 1
        return self._reply(
            start_response, 200, {"ok": True, "result": self._answer(method, params)}
        )

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": 7000000001,
                "is_bot": True,
                "first_name": "CNSC",
                "username": "cnsc_load_bot",
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method in ("sendMessage", "editMessageText", "sendDocument"):
            chat = int(params.get("chat_id", 0))
            message_id = int(params.get("message_id") or next(self.message_ids))
            self.chats[chat].record(method, params, message_id)
            return {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "from": {"id": 7000000001, "is_bot": True, "first_name": "CNSC"},
                "text": str(params.get("text", "")),
            }
        if method == "answerCallbackQuery":
            chat = self.callbacks.pop(str(params.get("callback_query_id", "")), 0)
            self.chats[chat].record(method, params, None)
        return True

    @staticmethod
    def _reply(start_response: Any, status: int, payload: Any) -> list[bytes]:
        body = json.dumps(payload).encode()
        start_response(
            f"{status} {'OK' if status == 200 else 'Unauthorized'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


BOT_API: FakeBotApi | None = None


# --- Recording -----------------------------------------------------------------------------------


@events.request.add_listener
def _record(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any = None,
    exception: BaseException | None = None,
    **_kwargs: Any,
) -> None:
    group, _sep, label = name.partition("|")
    status = getattr(response, "status_code", 0) if response is not None else 0
    now = time.monotonic()
    if status == 429:
        FIRST_429.setdefault(group, now)
    SAMPLES.append(
        (PHASE["index"], group, label, response_time, status, exception is not None, now)
    )


def _judge(response: Any, expect: tuple[int, ...]) -> None:
    """A request made with ``catch_response``: a success when it answered one of ``expect``, a
    failure otherwise (Locust records it, with the time it took, as its block ends)."""
    if response.status_code in expect:
        response.success()
    else:
        response.failure(f"answered {response.status_code}")


def _fire(user: HttpUser, name: str, started: float, exception: BaseException | None) -> None:
    user.environment.events.request.fire(
        request_type="BOT",
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=0,
        response=None,
        context={},
        exception=exception,
    )


# --- People at a browser -------------------------------------------------------------------------


class Browser(HttpUser):
    """A browser behind the reverse proxy: the proxy terminates TLS and says so in
    X-Forwarded-Proto, and passes the visitor's address in X-Real-IP (the rate limits read it)."""

    abstract = True
    group = ""

    def on_start(self) -> None:
        self.client.headers.update(
            {
                "X-Forwarded-Proto": "https",
                "X-Real-IP": mobile_address(),
                "Accept-Language": "vi",
                "User-Agent": "Mozilla/5.0 (Linux; Android 13) cnsc-load",
            }
        )
        self.origin = "https://" + CONFIG["web"].split("://", 1)[1]

    def _plain_cookies(self) -> None:
        # The session and CSRF cookies are Secure (production): the client talks plain HTTP to
        # the server as the proxy does, so it would keep them to itself otherwise.
        for cookie in self.client.cookies:
            cookie.secure = False

    def get(self, path: str, label: str, expect: tuple[int, ...] = (200,), group: str = "") -> Any:
        with self.client.get(
            path,
            name=f"{group or self.group}|{label}",
            allow_redirects=False,
            catch_response=True,
            timeout=60,
        ) as response:
            _judge(response, expect)
        self._plain_cookies()
        return response

    def post(self, path: str, label: str, data: dict[str, str], expect: tuple[int, ...]) -> Any:
        with self.client.post(
            path,
            data=data,
            name=f"sign-in|{label}",
            headers={"Origin": self.origin, "Referer": self.origin + path},
            allow_redirects=False,
            catch_response=True,
            timeout=60,
        ) as response:
            _judge(response, expect)
        self._plain_cookies()
        return response

    def _submit(
        self,
        form: str,
        form_label: str,
        action: str,
        label: str,
        fields: Callable[[], dict[str, str]],
    ) -> bool:
        """One sign-in step: the form fetched, then posted with its CSRF token and ``fields()``
        (read once the form is in: the authenticator's code is the one shown then); True when
        the post redirects onwards."""
        page = self.get(form, form_label, group="sign-in")
        token = CSRF.search(page.text or "")
        if token is None:
            return False
        data = {**fields(), "csrfmiddlewaretoken": token.group(1), "next": "/admin/"}
        return self.post(action, label, data, expect=(302,)).status_code == 302

    def sign_in(self, account: dict[str, Any]) -> bool:
        """Password, then the authenticator's code, as a person does. Counted as its own group
        (once a day for a person, and slow on purpose: PBKDF2 with Django's 1,000,000
        iterations); its cost shows in the other pages' latency at each step."""
        return self._submit(
            "/admin/login/?next=/admin/",
            "form",
            "/admin/login/?next=/admin/",
            "password",
            lambda: {"username": account["username"], "password": account["password"]},
        ) and self._submit(
            "/account/two-factor/?next=/admin/",
            "code form",
            "/account/two-factor/",
            "code",
            lambda: {"code": totp(account["totp_key"])},
        )

    def sign_in_from(self, pool: str) -> None:
        """Takes an account from the pool and signs in with it; ``ready`` when that worked."""
        self.account = POOL.take(pool)
        self.ready = self.account is not None and self.sign_in(self.account)


class Official(Browser):
    """A commune official at the back office (weight 3 of 10)."""

    weight = 3
    group = "official"
    wait_time = between(3, 8)

    def on_start(self) -> None:
        super().on_start()
        self.sign_in_from("officials")
        if self.account is not None:
            self.place = CONFIG["communes"][self.account["unit"]]

    def _pick(self, key: str) -> Any:
        return random.choice(self.place[key])

    @task(3)
    def household_list(self) -> None:
        if self.ready:
            self.get("/admin/outreach/household/", "household list")

    @task(3)
    def household_search(self) -> None:
        if self.ready:
            query = urlencode({"q": self._pick("search")})
            self.get(f"/admin/outreach/household/?{query}", "household search")

    @task(2)
    def household_filter(self) -> None:
        if self.ready:
            choice = random.choice(
                [
                    {"visited": random.choice(["30", "90", "never"])},
                    {"hamlet": self._pick("hamlets")},
                    {"team": self._pick("teams")},
                ]
            )
            self.get(f"/admin/outreach/household/?{urlencode(choice)}", "household filter")

    @task(2)
    def household_page(self) -> None:
        if self.ready:
            self.get(f"/admin/outreach/household/{self._pick('households')}/change/", "household")

    @task(2)
    def resident_search(self) -> None:
        if self.ready:
            query = urlencode({"q": self._pick("search")})
            self.get(f"/admin/outreach/resident/?{query}", "resident search")

    @task(1)
    def resident_page(self) -> None:
        if self.ready:
            self.get(f"/admin/outreach/resident/{self._pick('residents')}/change/", "resident")

    @task(1)
    def member_list(self) -> None:
        if self.ready:
            query = urlencode({"q": self._pick("search")}) if random.random() < 0.5 else ""
            self.get(f"/admin/team/member/?{query}", "member list")

    @task(2)
    def visit_list(self) -> None:
        if self.ready:
            query = "?source__exact=bot" if random.random() < 0.5 else ""
            self.get(f"/admin/outreach/visit/{query}", "visit list")

    @task(2)
    def dashboard(self) -> None:
        if self.ready:
            self.get(f"/dashboard/c/{self.account['unit']}/", "commune dashboard")

    @task(1)
    def index(self) -> None:
        if self.ready:
            self.get("/admin/", "back office home")


class ProvinceAnalyst(Browser):
    """Province staff reading dashboards (weight 1 of 10)."""

    weight = 1
    group = "province"
    wait_time = between(5, 15)

    def on_start(self) -> None:
        super().on_start()
        self.sign_in_from("analysts")

    @task(3)
    def province(self) -> None:
        if self.ready:
            self.get(f"/dashboard/p/{CONFIG['province']}/", "province dashboard")

    @task(1)
    def province_by_former_district(self) -> None:
        if self.ready:
            self.get(
                f"/dashboard/p/{CONFIG['province']}/?group=former_district",
                "province by former district",
            )

    @task(1)
    def province_last_month(self) -> None:
        if self.ready:
            period = month(today(), back=1)
            self.get(f"/dashboard/p/{CONFIG['province']}/?period={period}", "province, a month")

    @task(2)
    def commune(self) -> None:
        if self.ready:
            code = random.choice(CONFIG["province_communes"])
            self.get(f"/dashboard/c/{code}/", "commune dashboard")

    @task(1)
    def former_district(self) -> None:
        if self.ready:
            self.get(
                f"/dashboard/f/{random.choice(CONFIG['former_districts'])}/", "former district"
            )

    @task(1)
    def hamlet(self) -> None:
        if self.ready:
            self.get(f"/dashboard/h/{random.choice(CONFIG['hamlet_codes'])}/", "hamlet dashboard")

    @task(1)
    def team(self) -> None:
        if self.ready:
            commune, code = random.choice(CONFIG["team_codes"])
            self.get(f"/dashboard/t/{commune}/{code}/", "team dashboard")


class Resident(Browser):
    """A resident scanning a badge (weight 1 of 10); one in ten types a code wrong."""

    weight = 1
    group = "resident"
    wait_time = between(5, 20)

    @task
    def verify(self) -> None:
        if random.random() < 0.1:
            self.get("/verify/XXXXXXXXXXXX", "verify (unknown code)", expect=(404,))
        else:
            self.get(f"/verify/{random.choice(CONFIG['credentials'])}", "verify")


class VerifyScraper(Browser):
    """Tries codes in bulk from one address, in the abuse phase only."""

    fixed_count = 1
    group = "verify scraper"
    wait_time = constant_pacing(0.2)

    def on_start(self) -> None:
        super().on_start()
        self.client.headers["X-Real-IP"] = "198.51.100.7"

    @task
    def scrape(self) -> None:
        if not PHASE["abuse"]:
            gevent.sleep(0.5)
            return
        self.get(f"/verify/{random.choice(CONFIG['credentials'])}", "verify", expect=(200, 429))


# --- Machines ------------------------------------------------------------------------------------


class ApiUser(HttpUser):
    abstract = True
    group = ""

    def on_start(self) -> None:
        self.client.headers.update({"X-Forwarded-Proto": "https", "X-Real-IP": "192.0.2.10"})

    def call(self, path: str, label: str, expect: tuple[int, ...] = (200,)) -> None:
        with self.client.get(
            path,
            name=f"{self.group}|{label}",
            allow_redirects=False,
            catch_response=True,
            timeout=60,
        ) as response:
            _judge(response, expect)


class OperationsCentre(ApiUser):
    """A machine client with its own token (weight 1 of 10)."""

    weight = 1
    group = "ioc"
    wait_time = between(1, 4)

    def on_start(self) -> None:
        super().on_start()
        self.token = POOL.take("ioc_tokens") or CONFIG["ioc_tokens"][0]
        self.client.headers["Authorization"] = f"Bearer {self.token}"
        self.today = today()

    @task(3)
    def communes_this_month(self) -> None:
        query = urlencode(
            {
                "unit": CONFIG["province"],
                "level": "commune",
                "indicator": "households_visited,vneid_level2",
                "period": month(self.today),
            }
        )
        self.call(f"/api/v1/values?{query}", "values, communes of the province")

    @task(3)
    def commune_year(self) -> None:
        query = urlencode(
            {
                "unit": random.choice(CONFIG["data_communes"]),
                "indicator": "visits,households_visited",
                "start": month(self.today, back=11),
                "end": month(self.today),
            }
        )
        self.call(f"/api/v1/values?{query}", "values, a commune over a year")

    @task(1)
    def data_value_sets(self) -> None:
        query = urlencode(
            {"unit": random.choice(CONFIG["data_communes"]), "period": month(self.today)}
        )
        self.call(f"/api/v1/dataValueSets.json?{query}", "dataValueSets")

    @task(1)
    def indicators(self) -> None:
        self.call("/api/v1/indicators", "indicators")


class ApiFlood(ApiUser):
    """One client's token used far past its allowance, in the abuse phase only."""

    fixed_count = 2
    group = "api flood"
    wait_time = constant_pacing(0.1)

    def on_start(self) -> None:
        super().on_start()
        self.client.headers["Authorization"] = f"Bearer {CONFIG['flood_token']}"

    @task
    def flood(self) -> None:
        if not PHASE["abuse"]:
            gevent.sleep(0.5)
            return
        query = urlencode({"unit": CONFIG["province"], "indicator": "visits"})
        self.call(f"/api/v1/values?{query}&period={month(today())}", "values", (200, 429))


# --- Volunteers on Telegram ----------------------------------------------------------------------


class NoReplyError(Exception):
    pass


class UnexpectedReplyError(Exception):
    pass


class Volunteer(HttpUser):
    """A team member talking to the bot (weight 4 of 10): mostly visits, sometimes a check-in,
    their worklist or their figures. Thinks 1.5-5 s before each message or button."""

    weight = 4
    wait_time = between(5, 15)

    def on_start(self) -> None:
        from cnsc.bot.testing import Updates

        self.person = POOL.take("volunteers")
        if self.person is None:
            return
        self.you = Updates(self.person["user_id"], first_name="Tổ viên", language="vi")
        assert BOT_API is not None
        self.chat = BOT_API.chats[self.person["user_id"]]

    def think(self) -> None:
        gevent.sleep(random.uniform(1.5, 5))

    def send(self, label: str, update: dict[str, Any], *, press: bool = False) -> bool:
        before = self.chat.seq
        started = time.perf_counter()
        with self.client.post(
            CONFIG["webhook"],
            data=json.dumps(update),
            headers={SECRET_HEADER: CONFIG["secret"], "Content-Type": "application/json"},
            name="webhook|accept",
            catch_response=True,
            timeout=30,
        ) as response:
            _judge(response, (200,))
        if response.status_code != 200:
            _fire(self, f"volunteer|{label}", started, UnexpectedReplyError("webhook refused"))
            return False
        methods = ("answerCallbackQuery",) if press else ("sendMessage", "editMessageText")
        answered = self.chat.wait(before, methods, REPLY_TIMEOUT)
        _fire(self, f"volunteer|{label}", started, None if answered else NoReplyError(label))
        return answered

    def _buttons(self, action: str) -> list[str]:
        return [
            data
            for _label, data in self.chat.keyboard[1]
            if data.split(":", 2)[-1].startswith(action)
        ]

    def press(self, label: str, action: str, *, pick: str = "first") -> bool:
        found = self._buttons(action)
        if not found:
            _fire(self, f"volunteer|{label}", time.perf_counter(), UnexpectedReplyError(label))
            return False
        data = {"first": found[0], "last": found[-1]}.get(pick) or random.choice(found)
        update = self.you.press(data, self.chat.keyboard[0])
        assert BOT_API is not None
        BOT_API.callbacks[update["callback_query"]["id"]] = self.person["user_id"]
        ok = self.send(label, update, press=True)
        self.think()
        return ok

    def say(self, label: str, update: dict[str, Any]) -> bool:
        ok = self.send(label, update)
        self.think()
        return ok

    def cancel(self) -> None:
        self.say("/cancel", self.you.command("cancel"))

    @task(6)
    def visit(self) -> None:
        if self.person is None:
            gevent.sleep(5)
        elif not self._visit():
            self.cancel()

    def _visit(self) -> bool:
        """A whole visit: /visit, a household from the worklist (or the house number typed),
        a resident ticked, VNeID done to a level, no photo, a note typed, Save."""
        assert self.person is not None
        if not self.say("/visit", self.you.command("visit")):
            return False
        if not self._buttons("hh=") and not self.say(
            "house number typed", self.you.text(random.choice(self.person["houses"]))
        ):
            return False
        if self._buttons("hh=") and not self.press("household", "hh=", pick="any"):
            return False
        if self._buttons("r=") and not self.press("resident ticked", "r="):
            return False
        if not self.press("residents done", "rdone"):
            return False
        if self._buttons("s=") and not (
            self.press("service", "s=vneid")
            and self.press("outcome", "o=done")
            and (not self._buttons("st=") or self.press("state", "st=", pick="last"))
            and self.press("next resident", "next")
        ):
            return False
        if not (
            self.press("photo skipped", "skip")
            and self.say("note typed", self.you.text("Đã hướng dẫn cài VNeID mức 2"))
            and self.press("save", "ok")
        ):
            return False
        if "✅" not in self.chat.text:
            _fire(self, "volunteer|saved", time.perf_counter(), UnexpectedReplyError("not saved"))
        return True

    @task(2)
    def checkin(self) -> None:
        if self.person is None:
            gevent.sleep(5)
            return
        if self.say("/checkin", self.you.command("checkin")):
            lat = self.person["lat"] + random.uniform(-0.002, 0.002)
            lon = self.person["lon"] + random.uniform(-0.002, 0.002)
            self.say("location", self.you.location(lat, lon, accuracy=12))

    @task(1)
    def worklist(self) -> None:
        if self.person is not None:
            self.say("/tasks", self.you.command("tasks"))

    @task(1)
    def figures(self) -> None:
        if self.person is not None:
            self.say("/stats", self.you.command("stats"))


# --- The shape: a comparison, then steps until something breaks ----------------------------------


def _cpu_busy() -> tuple[float, float]:
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [float(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def group_stats(
    samples: list[tuple[int, str, str, float, int, bool, float]], seconds: float
) -> dict[str, dict[str, Any]]:
    by_group: dict[str, list[tuple[float, int, bool]]] = defaultdict(list)
    for _phase, group, _label, ms, status, failed, _at in samples:
        by_group[group].append((ms, status, failed))
    out = {}
    for group, rows in by_group.items():
        expected_429 = group.split(": ")[0] in ABUSE_GROUPS
        times = [ms for ms, _status, _f in rows]
        errors = sum(
            1 for _ms, status, failed in rows if failed and not (expected_429 and status == 429)
        )
        out[group] = {
            "requests": len(rows),
            "rps": len(rows) / seconds if seconds else 0.0,
            "median_ms": percentile(times, 0.5),
            "p95_ms": percentile(times, 0.95),
            "errors": errors,
            "error_rate": errors / len(rows) if rows else 0.0,
            "answered_429": sum(1 for _ms, status, _f in rows if status == 429),
        }
    return out


class StepShape(LoadTestShape):
    """A warm-up, then a calm phase and the same users with the abusive clients for the
    comparison; then a step of more users every ``step`` seconds until a group's 95th
    percentile passes the threshold or its errors pass the limit, or the time is up."""

    def __init__(self) -> None:
        super().__init__()
        plan = CONFIG["plan"]
        fixed = VerifyScraper.fixed_count + ApiFlood.fixed_count
        self.phases: list[dict[str, Any]] = [
            {"name": "warm-up", "users": plan["start"], "seconds": plan["warmup"]},
            {"name": "calm", "users": plan["start"], "seconds": plan["compare"]},
            {"name": "abuse", "users": plan["start"], "seconds": plan["compare"]},
        ]
        left = plan["duration"] - plan["warmup"] - 2 * plan["compare"]
        users = plan["start"]
        while left >= plan["step"]:
            users += plan["increment"]
            self.phases.append({"name": "step", "users": users, "seconds": plan["step"]})
            left -= plan["step"]
        for phase in self.phases:
            phase["locust_users"] = phase["users"] + fixed
        self.ends = list(itertools.accumulate(p["seconds"] for p in self.phases))
        self.broke: dict[str, Any] | None = None
        self.marks: list[dict[str, Any]] = []

    def _mark(self) -> None:
        busy, total = _cpu_busy()
        self.marks.append(
            {
                "at": time.monotonic(),
                "load1": os.getloadavg()[0],
                "busy": busy,
                "total": total,
                "self_cpu": sum(os.times()[:2]),
            }
        )

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        index = next((i for i, end in enumerate(self.ends) if elapsed < end), len(self.phases))
        if index != PHASE["index"]:
            self._mark()
            previous = PHASE["index"]
            # The warm-up (workers loading, everyone signing in) is not judged, nor the abuse
            # phase: what the abusive clients do to the others is the comparison's business.
            judged = previous >= 0 and self.phases[previous]["name"] in ("calm", "step")
            if judged and self._judge(previous):
                return None
            if index >= len(self.phases):
                return None
            PHASE["index"] = index
            PHASE["abuse"] = self.phases[index]["name"] == "abuse"
        phase = self.phases[index]
        return phase["locust_users"], CONFIG["plan"]["spawn_rate"]

    def _judge(self, index: int) -> bool:
        phase = self.phases[index]
        stats = group_stats([s for s in SAMPLES if s[0] == index], phase["seconds"])
        limit_ms, max_errors = CONFIG["plan"]["p95_ms"], CONFIG["plan"]["max_error_rate"]
        over: dict[str, str] = {}
        for group in NORMAL_GROUPS:
            figures = stats.get(group)
            # A 95th percentile of fewer answers is one slow page, not a trend.
            if not figures or figures["requests"] < MIN_JUDGED:
                continue
            if figures["p95_ms"] > limit_ms:
                over[group] = f"p95 {figures['p95_ms']:.0f} ms"
            if figures["error_rate"] > max_errors:
                over[group] = f"{figures['error_rate']:.1%} errors"
        if over:
            worst = max(
                over,
                key=lambda g: max(
                    stats[g]["p95_ms"] / limit_ms, stats[g]["error_rate"] / max_errors
                ),
            )
            self.broke = {"phase": index, "groups": over, "first": worst}
        return bool(over)


# --- Running -------------------------------------------------------------------------------------


def wait_for(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            gevent.sleep(0.5)
    sys.exit(f"nothing answers on {host}:{port}")


def main() -> None:
    global BOT_API
    config_path, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    CONFIG.update(json.loads(config_path.read_text(encoding="utf-8")))
    ApiFlood.wait_time = constant_pacing(ApiFlood.fixed_count / CONFIG["plan"]["flood_rate"])
    VerifyScraper.wait_time = constant_pacing(1 / CONFIG["plan"]["scrape_rate"])
    BOT_API = FakeBotApi(CONFIG["token"])
    server = WSGIServer(("127.0.0.1", CONFIG["bot_api_port"]), BOT_API, log=None, error_log=None)
    server.start()
    print(f"Bot API stand-in listening on 127.0.0.1:{CONFIG['bot_api_port']}", flush=True)

    web_host, web_port = CONFIG["web"].split("://", 1)[1].split(":")
    wait_for(web_host, int(web_port), 300)
    wait_for("127.0.0.1", CONFIG["webhook_port"], 300)
    # bench/load.py says when the web's workers and the bot are ready.
    go = Path(CONFIG["go_file"])
    deadline = time.monotonic() + 300
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("bench/load.py never said go")
        gevent.sleep(0.2)
    # Update ids Telegram never sent before, so a kept database does not take them for
    # redeliveries of an earlier run's.
    from cnsc.bot.testing import Updates

    Updates._ids = itertools.count(int(time.time() * 1000) * 100)

    shape = StepShape()
    environment = Environment(
        user_classes=[Official, ProvinceAnalyst, Volunteer, OperationsCentre, Resident,
                      ApiFlood, VerifyScraper],
        shape_class=shape,
        host=CONFIG["web"],
        events=events,
    )  # fmt: skip
    runner = environment.create_local_runner()
    started = time.monotonic()
    runner.start_shape()
    deadline = started + CONFIG["plan"]["duration"] + 120
    while runner.state != STATE_STOPPED and time.monotonic() < deadline:
        gevent.sleep(0.5)
        if runner.shape_greenlet is None and PHASE["index"] >= 0:
            break
    runner.quit()
    server.stop(timeout=1)

    phases = []
    marks = shape.marks
    for index, phase in enumerate(shape.phases):
        if index >= len(marks) - 1:
            break
        begin, end = marks[index], marks[index + 1]
        seconds = end["at"] - begin["at"]
        rows = [s for s in SAMPLES if s[0] == index]
        phases.append(
            {
                **phase,
                "seconds": seconds,
                "groups": group_stats(rows, seconds),
                "pooled": group_stats(
                    [(p, "all", lb, *rest) for p, g, lb, *rest in rows if g in NORMAL_GROUPS],
                    seconds,
                ).get("all"),
                "labels": group_stats(
                    [(p, f"{g}: {label}", label, *rest) for p, g, label, *rest in rows], seconds
                ),
                "load1": end["load1"],
                "cpu_busy": (end["busy"] - begin["busy"]) / max(1.0, end["total"] - begin["total"]),
                "locust_cpu": (end["self_cpu"] - begin["self_cpu"]) / seconds,
            }
        )
    # The abuse phase once both abusive clients were past their allowance.
    comparison = None
    if len(phases) >= 3 and all(g in FIRST_429 for g in ABUSE_GROUPS):
        since = max(FIRST_429[g] for g in ABUSE_GROUPS)
        end_at = marks[3]["at"]
        rows = [s for s in SAMPLES if s[0] == 2 and s[6] >= since]
        comparison = {"seconds": end_at - since, "groups": group_stats(rows, end_at - since)}
    result = {
        "phases": phases,
        "broke": shape.broke,
        "limited": comparison,
        "bot_api_calls": BOT_API.calls,
        "load_cpu_seconds": sum(os.times()[:2]),
        "accounts_used": dict(POOL.taken),
    }
    result_path.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
