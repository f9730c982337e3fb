#!/usr/bin/env bash
# A stand-in for a coding agent such as `claude`: it keeps a conversation (an id and a history)
# under ~/.agent-state/<name>/ and works in ~/workspaces/<name>/, both persisted by the session.
# `agent.sh` starts a new conversation; `agent.sh --resume` continues the saved one, as
# `claude --continue` would. On SIGTERM it records the stop and exits at once.
name=${SPOTRUN_AGENT:-agent}
state=~/.agent-state/$name
work=~/workspaces/$name
mkdir -p "$state" "$work"
if [ "$1" = "--resume" ] && [ -f "$state/conversation-id" ]; then
  conv=$(cat "$state/conversation-id")
  echo "resumed $conv" >>"$state/history"
else
  conv="conv-$name-$RANDOM$RANDOM"
  echo "$conv" >"$state/conversation-id"
  echo "started $conv" >>"$state/history"
fi
echo "agent $name: conversation $conv ($([ "$1" = "--resume" ] && echo resumed || echo new))"
trap 'echo "stopped $conv" >>"$state/history"; exit 0' TERM
n=0
while true; do
  n=$((n + 1))
  echo "$conv line $n" >>"$work/notes.txt"
  echo "working $n"
  sleep "${AGENT_STEP_SECONDS:-1}" &
  wait $!
done
