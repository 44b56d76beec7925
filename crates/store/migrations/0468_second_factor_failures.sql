-- Wrong second-factor codes (TOTP or recovery) given with the right password, counted apart
-- from the failures that lock an account and kept across its lockouts. A locked account still
-- lets its person in with the password and a valid code, so that someone guessing passwords
-- cannot keep them out; without this count, whoever held the password could try codes for as
-- long as the lockout lasted, none of them counted. While it is at the lockout threshold, a
-- locked account checks no code (crates/accounts/src/signin.rs). A successful sign-in and an
-- administrator's unlock clear it.
ALTER TABLE users ADD COLUMN second_factor_failures integer NOT NULL DEFAULT 0;
