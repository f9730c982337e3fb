"""A trainer with no ML libraries: it counts steps, checkpoints every k steps and on SIGTERM,
and resumes from $SPOT_CHECKPOINT_DIR. Every step it completes is printed as `step N`."""
import json
import os
import signal
import sys
import time

ckpt_dir = os.environ.get("SPOT_CHECKPOINT_DIR", "checkpoints")
total = int(os.environ.get("TOTAL_STEPS", "150"))
every = int(os.environ.get("CHECKPOINT_EVERY", "10"))
step_seconds = float(os.environ.get("STEP_SECONDS", "0.1"))
state_file = os.path.join(ckpt_dir, "state.json")
os.makedirs(ckpt_dir, exist_ok=True)

step = 0
if os.path.exists(state_file):
    with open(state_file) as f:
        step = json.load(f)["step"]
origin = os.environ.get("SPOT_RESUME_FROM") or "scratch"
print(f"start at step {step} (restart={os.environ.get('SPOT_IS_RESTART')}, from {origin})", flush=True)

stopping = False


def on_sigterm(_signum, _frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, on_sigterm)


def save():
    # Write then rename, so the agent never uploads half a checkpoint.
    tmp = state_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"step": step}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state_file)
    # Optional: the fraction of the work done, which spotrun's deadline policy measures progress by.
    progress_file = os.environ.get("SPOT_PROGRESS_FILE")
    if progress_file:
        with open(progress_file + ".tmp", "w") as f:
            f.write(str(step / total))
        os.replace(progress_file + ".tmp", progress_file)


while step < total:
    if stopping:
        save()
        print(f"SIGTERM: checkpoint saved at step {step}", flush=True)
        sys.exit(0)
    time.sleep(step_seconds)
    step += 1
    print(f"step {step}", flush=True)
    if step % every == 0:
        save()

save()
print(f"done: {step} steps", flush=True)
