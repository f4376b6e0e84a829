"""What a letter is and the rules it obeys.

``contract`` (the request, validated), ``model`` (the request as the service
sees it), ``kid``, ``otp`` (one-time passwords), ``deadline``, ``profile``
(the agency), ``postal_address`` (the envelope window's lines) and
``compose`` (what the service adds before rendering).
"""
