from training_examples.torch_lejepa import main

if __name__ == "__main__":
    main()
