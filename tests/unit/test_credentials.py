from caldav_bridge.credentials import hash_password, new_api_token, new_password, token_digest, verify_password


def test_password_hashes_are_salted_and_verify() -> None:
    first, second = hash_password("hunter22"), hash_password("hunter22")
    assert first != second
    assert "hunter22" not in first
    assert verify_password("hunter22", first) and verify_password("hunter22", second)
    assert not verify_password("hunter23", first)
    assert not verify_password("hunter22", None)
    assert not verify_password("hunter22", "scrypt$garbage")


def test_tokens_have_at_least_128_bits_and_are_unique() -> None:
    tokens = {new_api_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(t.removeprefix("ast_")) >= 43 for t in tokens)  # 32 bytes, url-safe base64
    assert len(token_digest("x")) == 64 and token_digest("x") != "x"


def test_generated_passwords_are_typeable() -> None:
    password = new_password()
    assert len(password) == 19 and password.count("-") == 3
