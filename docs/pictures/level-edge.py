"""Chapter 12: level-triggered against edge-triggered epoll. One socket's receive
buffer over time, and which epoll_wait() calls report it readable.
Drawn by draw.sh: python3 level-edge.py level-edge.svg"""
import matplotlib.pyplot as plt

from style import BLUE, GREEN, GREY, RED, save

# Bytes waiting in the socket's receive buffer: 100 arrive, the server reads 60
# of them (a partial read), 100 more arrive, then it reads all 140.
steps = [(0, 0), (1, 100), (2, 40), (6, 140), (7, 0), (10, 0)]
waits = [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]  # the loop's epoll_wait() calls

fig, (buf, lt, et) = plt.subplots(3, 1, figsize=(9, 4.2), sharex=True,
                                  gridspec_kw={"height_ratios": [2.2, 1, 1]})
xs = [t for t, _ in steps]
ys = [b for _, b in steps]
buf.step(xs, ys, where="post", color=BLUE, lw=1.5)
buf.fill_between(xs, ys, step="post", color=BLUE, alpha=0.15)
buf.set_ylabel("bytes\nunread")
buf.set_ylim(0, 180)
for t, y, text, side in ((1, 104, "100 bytes\narrive", "left"), (2, 148, "the server reads 60\n(40 left behind)", "left"),
                         (6, 148, "100 more arrive", "right"), (7, 148, "it reads to EAGAIN", "left")):
    buf.annotate(text, xy=(t + (0.07 if side == "left" else -0.07), y), ha=side, va="bottom", fontsize=8,
                 color=GREY)
    buf.axvline(t, color=GREY, lw=0.6, ls=":")


def reports(ax, label, ready, color):
    """One row of marks: which waits report the socket readable."""
    ax.set_ylabel(label, rotation=0, ha="right", va="center")
    ax.set_yticks([])
    ax.set_ylim(-0.6, 1.2)
    for w in waits:
        hit = ready(w)
        ax.plot([w], [0], marker="o" if hit else "x", color=color if hit else GREY, markersize=7 if hit else 5)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)

level = lambda w: any(t0 <= w < t1 and b > 0 for (t0, b), (t1, _) in zip(steps, steps[1:]))
edges = {1.5, 6.5}  # the first wait after each arrival
reports(lt, "level-triggered:\nreadable while bytes wait", level, GREEN)
reports(et, "edge-triggered:\nonly after new bytes", lambda w: w in edges, RED)
et.text(4.0, 0.45, "the 40 bytes left behind are not reported again\nuntil new bytes arrive", ha="center",
        va="bottom", fontsize=8, color=RED)
et.set_xlabel("time; each mark is one epoll_wait() (dot: reported readable, cross: not)")
for side in ("top", "right"):
    buf.spines[side].set_visible(False)
et.set_xlim(0, 10)
et.set_xticks([])
fig.tight_layout()
save(fig)
