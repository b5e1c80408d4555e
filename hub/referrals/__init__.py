"""Referral follow-up: callback deadlines of referrals to districts, closed by their answers."""
