from autoclerk.cli import main

main()
