"""Names the lake tests share with their conftest (imported by name: two conftest modules, the lake's
and the security suite's, cannot both be imported as `conftest`)."""

# One role logs in with a password (scram over TCP) so that a wrong password can be tested; every
# other role is trusted on this private, loopback-only server (.ci/postgres.sh does the same).
PASSWORD_ROLE = "ecotop_pw"
