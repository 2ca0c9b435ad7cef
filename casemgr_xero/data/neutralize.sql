-- casemgr_xero: a neutralized copy must never talk to a real Xero organisation
UPDATE xero_connection
   SET active = false,
       access_token = NULL,
       refresh_token = NULL,
       state = 'draft';
-- the secret and the webhook key are the Xero app's (shared by its connections)
UPDATE xero_app
   SET client_secret = NULL,
       webhook_key = NULL;
