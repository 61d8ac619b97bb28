"""The studies: experiments behind the README's tables and the demo's sections.

They import the library (``rewardlab.*``) and are never imported by it (a test checks):
best-of-N with shaped rewards (:mod:`.best_of_n`), GSM8K credit maps (:mod:`.credit_maps`),
BIG-Bench Mistake localisation (:mod:`.mistakes`), the teaching experiment (:mod:`.teaching`),
the fast/slow/gated judge experiment (:mod:`.fastslow`), and the demo (:mod:`.demo`) with its
HTML report (:mod:`.report`).
"""
