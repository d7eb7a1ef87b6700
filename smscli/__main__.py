from smscli.cli import main

main()
