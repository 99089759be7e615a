from training_examples.torch_lejepa.train import main

if __name__ == "__main__":
    main()
