from ctstation.cli import main

main()
