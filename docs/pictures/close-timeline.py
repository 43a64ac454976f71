"""Chapter 4: three ends of a conversation on a timeline (time flows down):
a half-close, a close that comes too early, and a close with input unread.
Drawn by draw.sh: python3 close-timeline.py close-timeline.svg"""
import matplotlib.pyplot as plt

from style import BLUE, GREEN, RED, lifelines, message, note, save

fig, axes = plt.subplots(1, 3, figsize=(13, 5.2))

# 1. The half-close: every reply arrives, then both ends close cleanly.
ax = axes[0]
lifelines(ax, "half-close: shutdown(SHUT_WR)", 6.2)
message(ax, 0.3, 0.5, "abc\\n")
note(ax, 1.0, "shutdown(SHUT_WR)", on_server=False)
message(ax, 1.0, 0.5, "FIN", color=GREEN)
note(ax, 0.8, "recv() = 4")
note(ax, 1.5, "recv() = 0: EOF,\nanswer the tail")
message(ax, 2.2, 0.5, "reply", to_server=False)
message(ax, 2.9, 0.5, "reply", to_server=False)
note(ax, 3.4, "last reply sent:\nshutdown(SHUT_WR)")
message(ax, 3.7, 0.5, "FIN", to_server=False, color=GREEN)
note(ax, 2.9, "recv() = replies", on_server=False)
note(ax, 4.2, "recv() = 0: EOF,\nthe whole reply", on_server=False)
note(ax, 5.2, "close()", on_server=False)
note(ax, 5.2, "close()")

# 2. Closing too early: the reply meets a socket nobody holds.
ax = axes[1]
lifelines(ax, "close() too early", 6.2)
message(ax, 0.3, 0.5, "abc\\n")
note(ax, 1.0, "close()", on_server=False)
message(ax, 1.0, 0.5, "FIN", color=GREEN)
note(ax, 0.8, "recv() = 4")
note(ax, 1.5, "recv() = 0")
message(ax, 2.2, 0.5, "reply", to_server=False)
note(ax, 2.7, "no socket for it:\nthe kernel answers RST", on_server=False, color=RED)
message(ax, 2.9, 0.5, "RST", color=RED)
note(ax, 3.4, "next send():\nEPIPE or ECONNRESET", color=RED)
note(ax, 4.6, "the client never\nread its reply", on_server=False, color=RED)

# 3. Closing with input unread: a reset instead of a FIN destroys replies in flight.
ax = axes[2]
lifelines(ax, "close() with input unread", 6.2)
message(ax, 0.3, 0.5, "abc\\n")
note(ax, 0.8, "recv() = 4")
message(ax, 1.0, 0.5, "reply", to_server=False)
note(ax, 1.5, "reply in the receive\nbuffer, not read yet", on_server=False)
message(ax, 1.9, 0.5, "more\\n")
note(ax, 2.6, "close(): \"more\\n\" still\nunread in its buffer", color=RED)
message(ax, 2.8, 0.5, "RST (not FIN)", to_server=False, color=RED)
note(ax, 3.3, "RST: the receive\nbuffer is thrown away", on_server=False, color=RED)
note(ax, 4.1, "recv(): ECONNRESET,\nthe reply is lost", on_server=False, color=RED)
note(ax, 4.9, "the cure: shutdown(SHUT_WR),\nread until the client's EOF,\nthen close() (the linger)", color=BLUE)

fig.tight_layout()
save(fig)
