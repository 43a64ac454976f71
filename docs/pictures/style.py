"""style.py - what every matplotlib picture of the course shares: one look, a
save() that writes the same bytes on every run (so that `draw.sh --check` can
compare), and the pieces of a message sequence chart (two lifelines, arrows
between them, time flowing down)."""
import sys

import matplotlib

matplotlib.use("agg")  # no display; the format follows the file name (.svg)
import matplotlib.pyplot as plt  # noqa: E402 (after use())

matplotlib.rcParams.update({
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "svg.hashsalt": "muxlab",  # element ids from a fixed salt, not a random one
    "svg.fonttype": "path",    # text as outlines: the same picture without the font
})

CLIENT, SERVER = 0.0, 1.0   # x of the two lifelines in a sequence chart
BLUE, GREEN, RED, GREY = "#3465a4", "#4e9a06", "#cc0000", "#555555"


def save(fig, path=None):
    """Writes fig to the path draw.sh gives (argv[1]), with no date in it."""
    fig.savefig(path or sys.argv[1], metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)


def lifelines(ax, title, end, left="client", right="server"):
    """Two vertical lines from y = 0 down to y = -end, named at the top."""
    ax.set_title(title, fontsize=10, pad=16)
    for x, name in ((CLIENT, left), (SERVER, right)):
        ax.plot([x, x], [0, -end], color=GREY, lw=1)
        ax.text(x, 0.25, name, ha="center", va="bottom", fontsize=9, weight="bold")
    ax.set_xlim(-0.85, 1.85)
    ax.set_ylim(-end - 0.3, 0.9)
    ax.axis("off")


def message(ax, t, dt, text, to_server=True, color=BLUE, lost=False, side_text=True):
    """An arrow sent at time t that arrives dt later; `lost` ends it in a cross halfway."""
    x0, x1 = (CLIENT, SERVER) if to_server else (SERVER, CLIENT)
    if lost:
        xm, ym = (x0 + x1) / 2, -(t + dt / 2)
        ax.plot([x0, xm], [-t, ym], color=color, lw=1.2)
        ax.plot([xm], [ym], marker="x", color=color, markersize=8, mew=2)
        ax.text(xm, ym + 0.12, text, ha="center", va="bottom", fontsize=8, color=color)
        return
    ax.annotate("", xy=(x1, -(t + dt)), xytext=(x0, -t),
                arrowprops=dict(arrowstyle="-|>", color=color, lw=1.2, shrinkA=0, shrinkB=0))
    xm, ym = (x0 + x1) / 2, -(t + dt / 2)
    ax.text(xm, ym + 0.08, text, ha="center", va="bottom", fontsize=8, color=color,
            rotation=0, bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))


def note(ax, t, text, on_server=True, color="black"):
    """A remark beside one lifeline at time t (what the program sees there)."""
    if on_server:
        ax.text(SERVER + 0.06, -t, text, ha="left", va="center", fontsize=8, color=color)
    else:
        ax.text(CLIENT - 0.06, -t, text, ha="right", va="center", fontsize=8, color=color)
