"""The engine core: declared steps and their kinds, typed state and typed answers, interruptions, each
user's stored conversation, transactions, button signing, the push seam, free-text intake (patient
identifiers) and encryption. It knows the conversations only through what they register."""
