"""Customer self-booking: booking links, the customers' bookings behind them, and the messages they receive.

The pages themselves are the edge's (``feeds.booking_page``); everything they do is a service here.
"""
