import Redis
