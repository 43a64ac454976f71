"""Chapter 13: the race between checking a stop flag and waiting, and the
self-pipe that closes it. Two runs of the same loop; the signal arrives between
the check and the wait. Drawn by draw.sh: python3 self-pipe.py self-pipe.svg"""
import matplotlib.pyplot as plt

from style import BLUE, GREEN, GREY, RED, save

fig, ax = plt.subplots(figsize=(9, 2.8))
CHECK, SIGNAL, WAIT = 0.2, 1.9, 3.2
rows = {"a flag only": 1.5, "a flag and the self-pipe": 0}

for name, y in rows.items():
    ax.broken_barh([(CHECK, 0.9)], (y - 0.2, 0.4), color=GREY, alpha=0.5)
    ax.text(CHECK + 0.45, y, "check: stop?", ha="center", va="center", fontsize=8)
    ax.annotate("SIGTERM", xy=(SIGNAL, y + 0.22), xytext=(SIGNAL, y + 0.42), ha="center", fontsize=8,
                color=RED, arrowprops=dict(arrowstyle="-|>", color=RED, lw=1))

y = rows["a flag only"]
ax.text(SIGNAL, y - 0.1, "handler:\nstop = true", ha="center", va="top", fontsize=8, color=RED)
ax.broken_barh([(WAIT, 6.8)], (y - 0.15, 0.3), color=BLUE, alpha=0.25)
ax.text(WAIT + 3.4, y, "poll(..., -1): asleep, and nothing will wake it: the stop is lost", ha="center",
        va="center", fontsize=8, color=BLUE)

y = rows["a flag and the self-pipe"]
ax.text(SIGNAL, y - 0.1, "handler: stop = true,\nwrite(pipe, \"s\")", ha="center", va="top", fontsize=8,
        color=RED)
ax.broken_barh([(WAIT, 0.15)], (y - 0.15, 0.3), color=BLUE, alpha=0.25)
ax.broken_barh([(WAIT + 0.15, 0.5)], (y - 0.2, 0.4), color=GREEN, alpha=0.8)
ax.text(WAIT + 0.8, y, "poll() returns at once: the pipe holds a byte; read it, stop", ha="left",
        va="center", fontsize=8, color=GREEN)

ax.set_yticks(list(rows.values()), list(rows.keys()))
ax.set_ylim(-0.8, 2.2)
ax.set_xlim(0, 10)
ax.set_xticks([])
ax.set_xlabel("time: the signal arrives after the check and before the wait")
for side in ("top", "right", "left"):
    ax.spines[side].set_visible(False)
ax.tick_params(axis="y", length=0)
save(fig)
