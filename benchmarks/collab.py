"""Chat and code-editing figures against the real stack (Redis + 2 daphne + SQLite).

    .venv/bin/python benchmarks/collab.py [--clients 100] [--editors 10]

Chat: `--clients` sockets in one room, spread over the daphne processes. First a
steady phase (`--rate` messages per second from rotating senders): the latency of
each message to every client (the time until the last client has it), p50 and
p99. Then a burst (`--burst` messages as fast as the senders can send them): the
messages per second delivered to all, and how many were lost (not delivered to
everyone, refused, or delivered twice). Baseline in the same run: the round trip
of one frame on /ws/echo, which has no database and no fan-out.

Code: `--editors` pycrdt clients type into one document at once (a token every
`--keystroke-ms` on average, at random places); the time from the last keystroke
anywhere until every client holds the same text with every character in it.

Goals: chat p99 under 100 ms at 100 clients, nothing lost, code converged within
200 ms. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from pycrdt import Doc, Provider, Text  # noqa: E402

from tests.live_stack import WebsocketsChannel, live_stack  # noqa: E402

SETUP = """
import json, sys
from django.contrib.auth import get_user_model
from django.test import Client
from collaboration.models import Membership, Room
from collaboration.services import workspace_create
n = {n}
User = get_user_model()
owner = User.objects.create_user("bench0")
workspace = workspace_create(user=owner, name="Benchmark")
users = [owner] + [User.objects.create_user(f"bench{{i}}") for i in range(1, n)]
Membership.objects.bulk_create(
    [Membership(workspace=workspace, user=u, role="editor") for u in users[1:]]
)
cookies = []
for user in users:
    client = Client()
    client.force_login(user)
    cookies.append(client.cookies["sessionid"].value)
chat = Room.objects.get(workspace=workspace, name="general")
code = Room.objects.create(workspace=workspace, name="code")
print(json.dumps({{"chat": str(chat.pk), "code": str(code.pk), "cookies": cookies}}))
"""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def connect(url: str, cookie: str, origin: str):
    return websockets.connect(
        url,
        origin=origin,
        additional_headers={"Cookie": f"sessionid={cookie}"},
        compression=None,
        max_queue=None,
        open_timeout=30,
    )


class ChatClient:
    """One socket; records when each message text arrives, and any error frame."""

    def __init__(self, ws):
        self.ws = ws
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.errors: list[dict] = []
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for raw in self.ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            kind = frame["type"]
            if kind == "message":
                if frame["text"] in self.arrivals:
                    self.duplicates += 1
                self.arrivals.setdefault(frame["text"], now)
            elif kind == "presence":
                self.ready.set()
            elif kind == "error":
                self.errors.append(frame)


async def echo_baseline(stack, cookie: str, rounds: int = 200) -> float:
    async with connect(f"{stack.ws_urls[0]}/ws/echo", cookie, stack.origin) as ws:
        await ws.recv()  # hello
        times = []
        for i in range(rounds):
            start = time.perf_counter()
            await ws.send(json.dumps({"i": i}))
            await ws.recv()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def chat_phase(stack, setup, args) -> dict:
    urls = stack.ws_urls
    clients: list[ChatClient] = []
    connect_start = time.perf_counter()
    for i in range(args.clients):
        url = f"{urls[i % len(urls)]}/ws/chat/{setup['chat']}"
        ws = await connect(url, setup["cookies"][i], stack.origin).__aenter__()
        clients.append(ChatClient(ws))
    await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 120)
    connect_s = time.perf_counter() - connect_start
    await asyncio.sleep(2)  # let the presence storm of the joins settle

    def delivered_to_all(text: str) -> bool:
        return all(text in c.arrivals for c in clients)

    async def send(k: int, text: str, sent: dict[str, float]) -> None:
        sent[text] = time.perf_counter()
        await clients[k % len(clients)].ws.send(json.dumps({"type": "message", "text": text}))

    # Steady phase: a fixed rate from rotating senders.
    steady: dict[str, float] = {}
    interval = 1 / args.rate
    start = time.perf_counter()
    for k in range(args.steady):
        await asyncio.sleep(max(0, start + k * interval - time.perf_counter()))
        await send(k, f"steady {k}", steady)
    deadline = time.perf_counter() + 30
    while not all(delivered_to_all(t) for t in steady) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    to_all = [
        (max(c.arrivals[t] for c in clients) - sent) * 1000
        for t, sent in steady.items()
        if delivered_to_all(t)
    ]
    per_delivery = [
        (c.arrivals[t] - sent) * 1000
        for t, sent in steady.items()
        for c in clients
        if t in c.arrivals
    ]
    await asyncio.sleep(args.rate_window)  # the burst starts with everyone's rate budget free

    # Burst: every sender sends its share at once.
    burst: dict[str, float] = {}
    burst_start = time.perf_counter()
    await asyncio.gather(*(send(k, f"burst {k}", burst) for k in range(args.burst)))
    sent_s = time.perf_counter() - burst_start
    deadline = time.perf_counter() + 120
    while not all(delivered_to_all(t) for t in burst) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    last = max((c.arrivals.get(t, 0) for c in clients for t in burst), default=burst_start)
    burst_s = last - burst_start

    every = {**steady, **burst}
    lost = sum(1 for t in every if not delivered_to_all(t))
    errors = sum(len(c.errors) for c in clients)
    duplicates = sum(c.duplicates for c in clients)
    for client in clients:
        await client.ws.close()
        client.task.cancel()
    return {
        "chat_clients": len(clients),
        "chat_connect_s": round(connect_s, 2),
        "chat_p50_ms": round(percentile(to_all, 50), 1),
        "chat_p99_ms": round(percentile(to_all, 99), 1),
        "chat_delivery_p50_ms": round(percentile(per_delivery, 50), 1),
        "chat_delivery_p99_ms": round(percentile(per_delivery, 99), 1),
        "chat_steady_rate": args.rate,
        "chat_msgs_per_s": round(len(burst) / burst_s, 1) if burst_s > 0 else None,
        "chat_deliveries_per_s": round(len(burst) * len(clients) / burst_s) if burst_s else None,
        "chat_burst_send_s": round(sent_s, 2),
        "chat_lost": lost + errors + duplicates,
        "chat_refused": errors,
        "chat_duplicates": duplicates,
    }


async def code_phase(stack, setup, args) -> dict:
    urls = stack.ws_urls
    docs = [Doc() for _ in range(args.editors)]
    tokens = [[f"<{i}.{k}>" for k in range(args.edits)] for i in range(args.editors)]
    expected_length = sum(len(t) for ts in tokens for t in ts)
    last_edit = [0.0] * args.editors
    synced = [asyncio.Event() for _ in docs]
    go, finished = asyncio.Event(), asyncio.Event()

    async def editor(i: int) -> None:
        rng = random.Random(i)
        url = f"{urls[i % len(urls)]}/ws/code/{setup['code']}"
        async with (
            connect(url, setup["cookies"][i], stack.origin) as ws,
            Provider(docs[i], WebsocketsChannel(ws)) as provider,
        ):
            await provider.synced.wait()
            synced[i].set()
            await go.wait()
            text = docs[i].get("code", type=Text)
            for token in tokens[i]:
                text.insert(rng.randint(0, len(text)), token)
                last_edit[i] = time.perf_counter()
                await asyncio.sleep(rng.uniform(0.5, 1.5) * args.keystroke_ms / 1000)
            await finished.wait()

    def converged() -> bool:
        texts = {str(d.get("code", type=Text)) for d in docs}
        return len(texts) == 1 and len(next(iter(texts))) == expected_length

    tasks = [asyncio.create_task(editor(i)) for i in range(args.editors)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in synced)), 30)
    start = time.perf_counter()
    go.set()
    deadline = start + 60
    while not converged() and time.perf_counter() < deadline:
        await asyncio.sleep(0.001)
    done = time.perf_counter()
    ok = converged()
    # Insertions at random spots may land inside another client's token, so count
    # characters: every typed character must be there exactly once.
    typed = Counter("".join(t for ts in tokens for t in ts))
    final = Counter(str(docs[0].get("code", type=Text)))
    missing = sum((typed - final).values()) + sum((final - typed).values())
    finished.set()
    await asyncio.gather(*tasks)
    return {
        "code_editors": args.editors,
        "code_edits": args.editors * args.edits,
        "code_typing_s": round(max(last_edit) - start, 2),
        "code_updates_per_s": round(args.editors * args.edits / (max(last_edit) - start), 1),
        "code_converge_ms": round((done - max(last_edit)) * 1000, 1) if ok else None,
        "code_converged": ok,
        "code_missing_chars": missing,
    }


async def main(args) -> dict:
    with live_stack(daphnes=args.daphnes) as stack:
        setup = json.loads(stack.shell(SETUP.format(n=args.clients)).strip().splitlines()[-1])
        baseline = await echo_baseline(stack, setup["cookies"][0])
        print(f"baseline: /ws/echo round trip p50 {baseline:.2f} ms", flush=True)
        chat = await chat_phase(stack, setup, args)
        print(
            f"chat: {chat['chat_clients']} clients, to-all latency p50 {chat['chat_p50_ms']} ms "
            f"p99 {chat['chat_p99_ms']} ms at {args.rate} msg/s; burst {chat['chat_msgs_per_s']} "
            f"msg/s ({chat['chat_deliveries_per_s']} deliveries/s); lost {chat['chat_lost']}",
            flush=True,
        )
        code = await code_phase(stack, setup, args)
        print(
            f"code: {code['code_editors']} editors, {code['code_edits']} insertions, converged "
            f"{code['code_converge_ms']} ms after the last one; missing "
            f"{code['code_missing_chars']} characters",
            flush=True,
        )
    result = {
        "cpus": os.cpu_count(),
        "daphnes": args.daphnes,
        "baseline_echo_p50_ms": round(baseline, 2),
        **chat,
        **code,
        "chat_p99_vs_echo": round(chat["chat_p99_ms"] / baseline, 1) if baseline else None,
        "goal_chat_p99_ms": 100,
        "goal_code_converge_ms": 200,
        "goals_met": bool(
            chat["chat_p99_ms"] < 100
            and chat["chat_lost"] == 0
            and code["code_converge_ms"] is not None
            and code["code_converge_ms"] < 200
            and code["code_missing_chars"] == 0
        ),
    }
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--daphnes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=20, help="steady chat messages per second")
    parser.add_argument("--steady", type=int, default=200, help="messages in the steady phase")
    parser.add_argument("--burst", type=int, default=500, help="messages in the burst")
    parser.add_argument("--rate-window", type=float, default=5.5, help=argparse.SUPPRESS)
    parser.add_argument("--editors", type=int, default=10)
    parser.add_argument("--edits", type=int, default=30, help="insertions per editor")
    parser.add_argument(
        "--keystroke-ms", type=float, default=100, help="mean pause between one editor's insertions"
    )
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
