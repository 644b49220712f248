"""The ledger's exception hierarchy. Every error carries a stable `code` and a message that says what is wrong."""

from __future__ import annotations


class GridTokenXError(Exception):
    """Base of every application error. `status` is the HTTP status the API answers with."""

    code = "error"
    status = 400

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict:
        out = {"code": self.code, "message": self.message}
        out.update(self.details)
        return out


class InvalidInput(GridTokenXError):
    code = "invalid_input"


class InvalidAddress(InvalidInput):
    code = "invalid_address"


class InvalidSeeds(InvalidInput):
    code = "invalid_seeds"


class MalformedTransaction(InvalidInput):
    code = "malformed_transaction"


class SignatureVerificationFailed(GridTokenXError):
    code = "signature_verification_failed"


class NotFound(GridTokenXError):
    code = "not_found"
    status = 404


class BlockhashNotFound(GridTokenXError):
    code = "blockhash_not_found"


class DuplicateTransaction(GridTokenXError):
    code = "already_processed"
    status = 409


class LedgerUnavailable(GridTokenXError):
    code = "ledger_unavailable"
    status = 503


class InstructionError(GridTokenXError):
    """Raised by a program handler; the runtime turns it into a TransactionFailed naming the instruction."""

    code = "instruction_error"

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class TransactionFailed(GridTokenXError):
    """A transaction whose execution failed: nothing it did remains, and it is not recorded on chain."""

    code = "transaction_failed"

    def __init__(self, *, instruction: int | None, reason_code: str, message: str):
        where = f"instruction {instruction}" if instruction is not None else "transaction"
        super().__init__(f"{where} failed: {message}", instruction=instruction, reason=reason_code)
        self.instruction = instruction
        self.reason_code = reason_code
        self.reason = message


class Conflict(GridTokenXError):
    code = "conflict"
    status = 409


class Forbidden(GridTokenXError):
    code = "forbidden"
    status = 403


class Rejected(GridTokenXError):
    """Well-formed input that a business rule refuses (e.g. a meter reading failing an oracle rule)."""

    code = "rejected"
    status = 422

    def __init__(self, code: str, message: str, **details):
        super().__init__(message, **details)
        self.code = code
