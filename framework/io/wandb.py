"""W&B credentials: whether this process can log online, found without prompting or contacting the server."""

from __future__ import annotations


def wandb_credentials() -> tuple[bool, str | None]:
    """Whether a usable W&B API key is configured, and if one is set but unusable, why.

    The key may come from the environment, the settings file or .netrc.

    Never prompts and never contacts the server.
    """
    import wandb  # here: importing wandb costs a second, and most runs never log to it

    try:
        return bool(wandb.login(prompt=False, verify=False)), None
    except Exception as error:  # noqa: BLE001 - a broken W&B setup just means "log offline"
        wandb.teardown()  # the failed login leaves W&B's process-wide session set up for it
        return False, str(error)
