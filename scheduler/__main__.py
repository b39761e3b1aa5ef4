from scheduler.cli.main import run

run()
