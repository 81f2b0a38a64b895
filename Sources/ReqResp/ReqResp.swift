// ReqResp
