"""The answering side of newsbot: question → language → retrieve → prompt → generate → cite → reply."""
