"""Chapter 6: a connect() to a listener whose accept queue is full, on Linux:
the SYN is dropped without an answer and sent again, 1 s, then 2 s, 4 s ...
later, until the queue has room. Nothing is refused.
Drawn by draw.sh: python3 backlog-syn.py backlog-syn.svg"""
import matplotlib.pyplot as plt

from style import BLUE, GREEN, GREY, RED, lifelines, message, note, save

fig, (ax, other) = plt.subplots(1, 2, figsize=(10, 5), gridspec_kw={"width_ratios": [3, 2]})

lifelines(ax, "accept queue full: the SYN is dropped and sent again", 4.6,
          left="client: connect()", right="server's kernel")
ax.text(-0.8, 0, "0 s", fontsize=8, color=GREY, va="center")
message(ax, 0.0, 0.3, "SYN", lost=True, color=RED)
note(ax, 0.15, "accept queue full:\ndropped, no answer\n(ListenOverflows + 1)", color=RED)
ax.text(-0.8, -1.0, "1 s", fontsize=8, color=GREY, va="center")
message(ax, 1.0, 0.3, "SYN again", lost=True, color=RED)
note(ax, 1.15, "still full: dropped", color=RED)
note(ax, 2.0, "the server accept()s:\nroom in the queue")
ax.text(-0.8, -3.0, "3 s", fontsize=8, color=GREY, va="center")
message(ax, 3.0, 0.3, "SYN again")
message(ax, 3.3, 0.3, "SYN-ACK", to_server=False, color=GREEN)
message(ax, 3.6, 0.3, "ACK")
note(ax, 3.9, "queued for accept()", color=GREEN)
note(ax, 3.6, "connect() returns,\nafter 3 s", on_server=False, color=GREEN)
note(ax, 1.6, "connect() waits;\nno error", on_server=False)

lifelines(other, "nothing listens: refused at once", 4.6, left="client: connect()", right="kernel")
message(other, 0.0, 0.3, "SYN")
message(other, 0.3, 0.3, "RST", to_server=False, color=RED)
note(other, 0.6, "ECONNREFUSED\n\"Connection refused\"", on_server=False, color=RED)
note(other, 0.15, "no socket on\nthat port", color=BLUE)

fig.tight_layout()
save(fig)
