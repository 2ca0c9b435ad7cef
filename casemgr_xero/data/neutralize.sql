-- casemgr_xero: a neutralized copy must never talk to a real Xero organisation
UPDATE xero_connection
   SET active = false,
       access_token = NULL,
       refresh_token = NULL,
       client_secret = NULL,
       webhook_key = NULL,
       state = 'draft';
