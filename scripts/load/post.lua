-- wrk: POST the file named by WRK_BODY (decision API) or PUT a publish (gateway), with headers.
local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = os.getenv("WRK_METHOD") or "POST"
wrk.headers["content-type"] = "application/json"
local auth = os.getenv("WRK_AUTH")
if auth then wrk.headers["authorization"] = auth end
wrk.headers["npm-command"] = "publish"
