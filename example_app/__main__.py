"""``python -m example_app``: set up the demo and serve it on http://127.0.0.1:5000/."""
from __future__ import annotations

import os

from . import create_app
from .demo import set_up


def main() -> None:
    app = create_app()
    accounts = set_up(app)
    chat = app.extensions["gdprchat"].chat
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    base = f"http://{host}:{port}"
    prefix = app.config["GDPRCHAT_URL_PREFIX"]
    password = accounts.admin_password or "(unchanged; set by whoever created it)"
    print(
        f"""
  Brightsmile Dental (example site for flask-gdprchat)

  Site            {base}/
  Agent console   {base}{prefix}/agent/
  Dashboard       {base}{prefix}/admin/
  Privacy center  {base}{prefix}/privacy

  Demo admin      {accounts.admin_email}  /  {password}
  Demo patient    {accounts.patient_email}  /  {accounts.patient_password}
  Mail goes to the SMTP server at {app.config['MAIL_SERVER']}:{app.config['MAIL_PORT']}
  (e.g. `python -m aiosmtpd -n -l localhost:1025`); without one, sending fails politely.
""",
        flush=True,
    )
    chat.socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)


if __name__ == "__main__":
    main()
