"""Chapter 8: the same few milliseconds in three servers: a busy poller, a busy
poller that naps, and a server waiting for readiness. A line arrives at the
same moment in all three. Drawn by draw.sh: python3 busy-poll.py busy-poll.svg"""
import matplotlib.pyplot as plt

from style import BLUE, GREEN, GREY, RED, save

ARRIVAL = 4.9  # ms: when the client's line reaches the server
fig, ax = plt.subplots(figsize=(9, 3.4))
rows = {"busy poll\n(nonblocking-server)": 2, "busy poll with naps\n(--idle-sleep-us 2000)": 1,
        "waiting for readiness\n(poll-server)": 0}

# Busy poll: turn after turn, each an accept() and a recv() that say EAGAIN.
y = rows["busy poll\n(nonblocking-server)"]
turns = [t * 0.25 for t in range(40)]
ax.broken_barh([(t, 0.2) for t in turns], (y - 0.3, 0.6), color=RED, alpha=0.75)
ax.text(10.2, y, "CPU: all of it,\nevery call EAGAIN", va="center", fontsize=8, color=RED)

# Naps: a turn, then sleep; the line waits for the nap to end.
y = rows["busy poll with naps\n(--idle-sleep-us 2000)"]
ax.broken_barh([(t, 0.2) for t in (0, 2.2, 4.4, 9.1)], (y - 0.3, 0.6), color=RED, alpha=0.75)
ax.broken_barh([(0.2, 2.0), (2.4, 2.0), (4.6, 2.0), (7.1, 2.0)], (y - 0.15, 0.3), color=GREY, alpha=0.25)
ax.annotate("", xy=(6.6, y + 0.45), xytext=(ARRIVAL, y + 0.45),
            arrowprops=dict(arrowstyle="<->", color="#ce5c00", lw=1.2))
ax.text((ARRIVAL + 6.6) / 2, y + 0.5, "waits for the nap to end", ha="center", va="bottom", fontsize=8,
        color="#ce5c00")
ax.text(10.2, y, "CPU: little,\nlate replies", va="center", fontsize=8, color=GREY)

# Readiness: one call, asleep until the kernel has news.
y = rows["waiting for readiness\n(poll-server)"]
ax.broken_barh([(0, ARRIVAL), (ARRIVAL + 0.3, 10 - ARRIVAL - 0.3)], (y - 0.15, 0.3), color=BLUE, alpha=0.25)
ax.text(ARRIVAL / 2, y, "asleep in poll(): no CPU", ha="center", va="center", fontsize=8, color=BLUE)
ax.text(10.2, y, "CPU: only for work,\nanswers at once", va="center", fontsize=8, color=BLUE)

# The line arrives, and where each server serves it.
for name, y in rows.items():
    served = {2: ARRIVAL + 0.15, 1: 6.6, 0: ARRIVAL}[y]
    ax.broken_barh([(served, 0.5 if y == 1 else 0.3)], (y - 0.3, 0.6), color=GREEN)
ax.axvline(ARRIVAL, color=GREEN, ls="--", lw=1)
ax.text(ARRIVAL, 2.75, "a line arrives", ha="center", va="bottom", fontsize=8, color=GREEN)

ax.set_yticks(list(rows.values()), list(rows.keys()))
ax.set_ylim(-0.6, 3.0)
ax.set_xlim(0, 10)
ax.set_xlabel("time (ms); red: the server's thread runs, green: it serves the line")
for side in ("top", "right", "left"):
    ax.spines[side].set_visible(False)
ax.tick_params(axis="y", length=0)
save(fig)
