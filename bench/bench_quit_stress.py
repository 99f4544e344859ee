"""Quit stress: N runs of the real window under Xvfb + a window manager, each ended at a random moment.

Run: .venv/bin/python bench/bench_quit_stress.py [--trials 50] [--max-delay 6] [--seed 0]
Needs Xvfb, xdotool and openbox (Debian: apt-get install xvfb xdotool openbox libxcb-icccm4
libxcb-keysyms1). Starts its own X server on a free display; nothing touches yours.

Ways of ending, taken in turn (shuffled per round):
  wm-close     Alt+F4 through openbox (the window manager sends WM_DELETE_WINDOW)
  ctrl-q       Ctrl+Q typed with xdotool (XTEST) into the focused window
  sigint       kill -INT (Ctrl+C in the terminal)
  sigterm      kill -TERM
  x-destroy    xdotool windowclose: XDestroyWindow on the top-level window
  x-killclient xdotool windowkill: XKillClient, the X connection is cut
Moments: signals at uniform(0, max-delay) s after the process starts (0 s: before Python has
started); window actions at uniform(0, max-delay) s after the window is first mapped (0 s: as it
appears). A run still alive --hang s after the action is a hang (then SIGKILLed).
Prints one line per trial, then tries, exits, worst and median exit time, hangs, settings saved
(``window/geometry`` written by the shutdown, checked when a window had been mapped), tracebacks.
The machine is shared: exit times are wall-clock and noisy.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ACTIONS = ("wm-close", "ctrl-q", "sigint", "sigterm", "x-destroy", "x-killclient")
EXPECTED_RC = {"wm-close": 0, "ctrl-q": 0, "sigint": 130, "sigterm": 143, "x-destroy": 0, "x-killclient": 1}
SIGNALS = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM}


@dataclass
class Trial:
    action: str
    delay: float
    window_seen: bool = False
    acted: bool = False
    rc: int | None = None
    exit_s: float | None = None
    hang: bool = False
    saved: bool = False
    stderr: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    @property
    def rc_ok(self) -> bool:
        """The expected code; a signal that came before detviewer's handlers (~0.1 s into Python's
        start-up, no window yet) may also end the process the default way (killed by it)."""
        if self.rc == EXPECTED_RC[self.action]:
            return True
        return self.action in SIGNALS and not self.window_seen and self.rc == -SIGNALS[self.action]


class XSession:
    """Xvfb on a free display plus openbox; ``env`` runs programs on it."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24",
                                      "-nolisten", "tcp"], pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            self.display = ":" + pipe.readline().strip()
        self.env = dict(os.environ, DISPLAY=self.display)
        for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY"):
            self.env.pop(name, None)
        ready = Path(tempfile.mkdtemp()) / "wm-ready"
        self.wm = subprocess.Popen(["openbox", "--startup", f"touch {ready}"], env=self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not ready.exists():
            if time.monotonic() > deadline:
                raise SystemExit("openbox did not start within 20 s")
            time.sleep(0.05)

    def xdotool(self, *args: str, timeout: float = 5.0) -> str:
        out = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        return out.stdout.strip()

    def window_of(self, pid: int) -> str | None:
        found = self.xdotool("search", "--all", "--onlyvisible", "--pid", str(pid), "--name", "^detviewer")
        return found.splitlines()[0] if found else None

    def close(self) -> None:
        for process in (self.wm, self.xvfb):
            process.terminate()
            process.wait(5)


def wait_for_window(x: XSession, process: subprocess.Popen, limit_s: float = 90.0) -> str | None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.poll() is None:
        window = x.window_of(process.pid)
        if window:
            return window
        time.sleep(0.02)
    return None


def act(x: XSession, trial: Trial, process: subprocess.Popen, window: str | None) -> None:
    """Do the trial's action (for window actions, on the window found now)."""
    if trial.action in SIGNALS:
        process.send_signal(SIGNALS[trial.action])
        trial.acted = True
        return
    window = x.window_of(process.pid) or window
    if window is None:
        trial.notes.append("no window to act on")
        return
    try:
        if trial.action in ("wm-close", "ctrl-q"):
            x.xdotool("windowactivate", "--sync", window)
            x.xdotool("key", "--clearmodifiers", "alt+F4" if trial.action == "wm-close" else "ctrl+q")
        elif trial.action == "x-destroy":
            x.xdotool("windowclose", window)
        else:
            x.xdotool("windowkill", window)
        trial.acted = True
    except subprocess.TimeoutExpired:
        trial.notes.append("xdotool timed out")


def run_trial(x: XSession, trial: Trial, command: list[str], settings: Path, hang_s: float) -> Trial:
    started = time.monotonic()
    process = subprocess.Popen(command, env=x.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    window = None
    if trial.action in SIGNALS:
        time.sleep(max(0.0, started + trial.delay - time.monotonic()))
        trial.window_seen = x.window_of(process.pid) is not None
    else:
        window = wait_for_window(x, process)
        trial.window_seen = window is not None
        time.sleep(trial.delay)
    if process.poll() is not None:
        trial.notes.append("ended before the action")
    else:
        act(x, trial, process, window)
    acted_at = time.monotonic()
    try:
        trial.rc = process.wait(hang_s)
        trial.exit_s = time.monotonic() - acted_at
    except subprocess.TimeoutExpired:
        trial.hang = True
        process.kill()
        process.wait()
    trial.stderr = process.stderr.read()
    process.stderr.close()
    trial.saved = settings.exists() and "geometry" in settings.read_text(errors="replace")
    return trial


def describe(trial: Trial) -> str:
    rc = "HANG" if trial.hang else f"rc={trial.rc}"
    exit_s = "-" if trial.exit_s is None else f"{trial.exit_s:.2f}s"
    flags = [f"window={'yes' if trial.window_seen else 'no'}", f"saved={'yes' if trial.saved else 'no'}"]
    if trial.rc is not None and trial.acted and not trial.rc_ok:
        flags.append(f"expected rc={EXPECTED_RC[trial.action]}")
    if trial.traceback:
        flags.append("TRACEBACK")
    lines = [ln for ln in trial.stderr.splitlines() if ln.strip()]
    if "Fatal Python error" in trial.stderr:  # faulthandler: the first frame of the crashing thread
        where = next((ln.strip() for ln in lines if ln.strip().startswith("File ")), "?")
        flags.append(f"CRASH at {where[:140]}")
    elif lines:
        flags.append(f"stderr: {lines[-1][:100]!r} ({len(lines)} lines)")
    return f"{trial.action:12s} +{trial.delay:4.2f}s  {rc:8s} {exit_s:>6s}  " + " ".join(flags + trial.notes)


def summary(trials: list[Trial]) -> None:
    exited = [t for t in trials if not t.hang]
    times = [t.exit_s for t in exited if t.exit_s is not None and t.acted]
    windowed = [t for t in trials if t.window_seen and t.acted]
    signalled = [t for t in windowed if t.action in SIGNALS]
    wrong_rc = [t for t in exited if t.acted and not t.rc_ok]
    early = [t for t in exited if t.acted and t.action in SIGNALS and not t.window_seen]
    print(f"\ntries {len(trials)}, exits {len(exited)}, hangs {sum(t.hang for t in trials)}")
    if times:
        print(f"exit time after the action: median {statistics.median(times):.2f} s, worst {max(times):.2f} s, "
              f"over 2.5 s: {sum(s > 2.5 for s in times)}")
    print(f"settings saved: {sum(t.saved for t in signalled)}/{len(signalled)} SIGINT/SIGTERM with a window, "
          f"{sum(t.saved for t in windowed)}/{len(windowed)} of all actions with a window")
    print(f"signals before the window was mapped: {len(early)} (exit codes "
          f"{', '.join(sorted({str(t.rc) for t in early})) or '-'})")
    print(f"tracebacks: {sum(t.traceback for t in trials)}; unexpected exit codes: {len(wrong_rc)}")
    for action in ACTIONS:
        mine = [t for t in trials if t.action == action]
        if mine:
            worst = max((t.exit_s for t in mine if t.exit_s is not None), default=float("nan"))
            codes = sorted({"HANG" if t.hang else str(t.rc) for t in mine})
            print(f"  {action:12s} {len(mine):3d} tries, exit codes {', '.join(codes)}, worst {worst:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--max-delay", type=float, default=6.0, help="moments are uniform in 0..this (s)")
    parser.add_argument("--hang", type=float, default=10.0, help="seconds after the action that count as a hang")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--actions", default=",".join(ACTIONS))
    parser.add_argument("paths", nargs="*", help="what the window opens (default: the demo images)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.trials, args.max_delay, args.hang = 2, 1.0, 10.0
    missing = [tool for tool in ("Xvfb", "xdotool", "openbox") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"error: {', '.join(missing)} not found (apt-get install xvfb xdotool openbox).")
    actions = [a for a in args.actions.split(",") if a]
    unknown = set(actions) - set(ACTIONS)
    if unknown:
        raise SystemExit(f"error: unknown action(s) {', '.join(sorted(unknown))}; choose from {', '.join(ACTIONS)}.")
    rng = random.Random(args.seed)
    order = [a for _ in range(args.trials // len(actions) + 1) for a in rng.sample(actions, len(actions))]
    x = XSession()
    print(f"X display {x.display} with openbox; {args.trials} trials, moments uniform in 0..{args.max_delay:g} s")
    trials = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for k in range(args.trials):
                settings = Path(tmp) / f"settings-{k}.ini"
                # -X faulthandler: a crash (not a quit) prints where it happened
                command = [sys.executable, "-X", "faulthandler", "-m", "detviewer", "--settings", str(settings),
                           *args.paths]
                trial = run_trial(x, Trial(order[k], rng.uniform(0.0, args.max_delay)), command, settings, args.hang)
                trials.append(trial)
                print(f"{k + 1:3d} {describe(trial)}", flush=True)
    finally:
        x.close()
    summary(trials)


if __name__ == "__main__":
    main()
