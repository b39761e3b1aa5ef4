"""Links that work: the URLs in a post as it goes out, and whether they answer.

- `found`: the URLs of a rendered post, and where each is written in the campaign's files;
- `checker`: fetches URLs (HEAD, else GET; redirects followed; bounded time and concurrency) and
  gives each a `Result`: ok, dead, failing, redirected to another site, or refused (inside this network);
- `transport`: how it connects: only to public addresses, the one it vetted, cut off at a deadline;
- `report`: `campaign validate --check-links`, every link of the plan as problems with file and line;
- `gate`: the daemon's look just before a send (`link_check: hold | warn | off`).

The only part of the files → plan side that needs the network, so nothing runs it unless asked.
"""
