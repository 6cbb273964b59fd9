#!/bin/sh
# Mailpit's bind variables, as MailDev's options.
set -eu
smtp=${MP_SMTP_BIND_ADDR:-0.0.0.0:1025}
ui=${MP_UI_BIND_ADDR:-0.0.0.0:8025}
exec /opt/maildev/node_modules/.bin/maildev \
  --ip "${smtp%:*}" --smtp "${smtp##*:}" --web-ip "${ui%:*}" --web "${ui##*:}" "$@"
