// payload_by_number
