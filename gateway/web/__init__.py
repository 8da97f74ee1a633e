"""The Vietnamese web client (giao diện web): server-rendered pages for every role.

Pages read the session cookie (gateway.web.session), declare who may open them with
gateway.policy's page rules, and act through the public API in-process
(gateway.web.api), so a page can do nothing the API would refuse and shows the
API's own Vietnamese message when it refuses.
"""
