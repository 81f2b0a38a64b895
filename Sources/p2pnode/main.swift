print("p2pnode")
