#!/usr/bin/env python3
"""An agent loop on the Memory Gateway: recall before answering, remember each turn, commit at the
end and follow the commit's job until it is finished.

The "model" here is a stand-in that answers from what it recalls, so the example runs anywhere:
put your LLM call in `answer`.

    go run .                                  # the gateway, in dev mode (no keys)
    python3 examples/python/agent.py          # or: --url http://127.0.0.1:8080 --api-key mgw_…
"""

import argparse
import os
import sys
import uuid
from typing import List

try:
    from memory_gateway import MemoryGateway, MemoryGatewayError
except ImportError:  # run from a checkout without installing the client
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
    from memory_gateway import MemoryGateway, MemoryGatewayError

CONVERSATION = [
    "Hi! I'm planning meals for the week. I'm vegetarian, by the way.",
    "I also really like spicy food, the hotter the better.",
    "What should I cook tonight? Keep my diet in mind: vegetarian, spicy.",
]


def answer(question: str, memories: List[str]) -> str:
    """Stands in for the model: a real agent puts the recalled memories into its prompt."""
    if not memories:
        return "Noted."
    return f"Going by {len(memories)} things I remember of you: a chickpea curry with chili, no meat."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("MEMORY_GATEWAY_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--api-key", default=os.environ.get("MEMORY_GATEWAY_KEY"))
    parser.add_argument("--session", default="meal-plan-" + uuid.uuid4().hex[:8])
    args = parser.parse_args()

    memory = MemoryGateway(
        args.url, api_key=args.api_key,
        workspace_id="dev", user_id="dev-user", agent_id="meal-planner", namespace="default",
    )
    try:
        for n, message in enumerate(CONVERSATION, start=1):
            print(f"user: {message}")
            # Recall before answering: what the memory holds of this user that bears on the message.
            recalled = memory.retrieve_context(message, limit=5)
            memories = [item["text"] for item in recalled["items"]]
            for text in memories:
                print(f"  (recalled) {text}")
            reply = answer(message, memories)
            print(f"agent: {reply}")
            # Remember both sides of the turn. Turn ids make a retried call store nothing twice.
            memory.ingest_turn(session_id=args.session, turn_id=f"{n}-user", role="USER", content=message)
            memory.ingest_turn(session_id=args.session, turn_id=f"{n}-agent", role="ASSISTANT", content=reply)

        # The conversation is over: commit the session, and follow its job until it is finished.
        job = memory.commit_session(args.session)["job"]
        print(f"commit: job {job['id']} {job['status']}")
        done = memory.wait_for_job(job["id"], on_update=lambda j: print(f"job {j['id']}: {j['status']}"))
        print(f"committed: {done['status']}, {done.get('createdRefsCount', 0)} memories made")
        return 0 if done["status"] == "SUCCESS" else 1
    except MemoryGatewayError as err:
        where = f" ({err.field})" if err.field else ""
        print(f"memory gateway error {err.code}{where}: {err.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
